package io.kizuna.runtime;

import java.util.ArrayList;
import java.util.List;

/** Splits a {@code -c} argument into the commands to run one by one. */
final class Scripts {

    /** The most commands one {@code -c} runs. */
    static final int MAX_COMMANDS = 1000;

    private Scripts() {
    }

    /**
     * Splits at {@code ;} and line breaks that are outside quotes and outside
     * Gogo's brackets ({@code {}}, {@code ()}, {@code []}), so closures and
     * quoted arguments stay whole. Blank commands are dropped.
     *
     * @param script the text given to {@code -c}
     * @return the commands, trimmed
     * @throws IllegalArgumentException when a quote or bracket is left open, or there are too many
     */
    static List<String> split(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        char quote = 0;
        int depth = 0;
        for (int i = 0; i < script.length(); i++) {
            char c = script.charAt(i);
            if (c == '\\' && quote != '\'' && i + 1 < script.length()) {
                current.append(c).append(script.charAt(++i));
                continue;
            }
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
                current.append(c);
                continue;
            }
            switch (c) {
                case '\'', '"' -> quote = c;
                case '{', '(', '[' -> depth++;
                case '}', ')', ']' -> {
                    if (depth == 0) {
                        throw new IllegalArgumentException("unbalanced '" + c + "' in: " + script.trim());
                    }
                    depth--;
                }
                default -> {
                }
            }
            if ((c == ';' || c == '\n' || c == '\r') && depth == 0) {
                add(out, current);
            } else {
                current.append(c);
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unclosed " + quote + " in: " + script.trim());
        }
        if (depth != 0) {
            throw new IllegalArgumentException("unclosed bracket in: " + script.trim());
        }
        add(out, current);
        return out;
    }

    private static void add(List<String> out, StringBuilder current) {
        String command = current.toString().trim();
        current.setLength(0);
        if (!command.isEmpty()) {
            if (out.size() >= MAX_COMMANDS) {
                throw new IllegalArgumentException("more than " + MAX_COMMANDS + " commands in one -c");
            }
            out.add(command);
        }
    }
}
