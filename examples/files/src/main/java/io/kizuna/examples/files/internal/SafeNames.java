package io.kizuna.examples.files.internal;

/**
 * Turns a name a peer offers into one that is safe to create in the receive
 * folder: no directories (only what follows the last {@code /} or {@code \}),
 * no leading dots (no hidden files, no {@code ..}), letters, digits and
 * {@code . _ - + ( ) space} only (anything else becomes {@code _}), at most
 * {@value #MAX_LENGTH} characters.
 */
final class SafeNames {

    /** Longest name kept, in characters. */
    static final int MAX_LENGTH = 200;

    private SafeNames() {
    }

    /**
     * @param offered the name the peer sent
     * @return a safe name
     * @throws IllegalArgumentException when nothing usable is left
     */
    static String of(String offered) {
        String base = offered;
        int slash = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
        base = base.substring(slash + 1);
        StringBuilder b = new StringBuilder();
        base.codePoints().forEach(c -> {
            if (Character.isLetterOrDigit(c) || ". _-+()".indexOf(c) >= 0) {
                b.appendCodePoint(c);
            } else {
                b.append('_');
            }
        });
        int start = 0;
        while (start < b.length() && (b.charAt(start) == '.' || b.charAt(start) == ' ')) {
            start++;
        }
        String name = b.substring(start).strip();
        if (name.codePointCount(0, name.length()) > MAX_LENGTH) {
            name = name.substring(0, name.offsetByCodePoints(0, MAX_LENGTH));
        }
        if (name.isEmpty() || name.chars().allMatch(c -> c == '_')) {
            throw new IllegalArgumentException("the name '" + offered + "' has nothing usable as a file name");
        }
        return name;
    }

    /**
     * @param name a safe name
     * @param n    the copy's number, from 1
     * @return {@code name-n}, before the extension: {@code report-1.pdf}
     */
    static String numbered(String name, int n) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) + "-" + n + name.substring(dot) : name + "-" + n;
    }
}
