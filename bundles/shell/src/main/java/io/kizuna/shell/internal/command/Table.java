package io.kizuna.shell.internal.command;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain-text table with aligned columns: two spaces between columns, no
 * trailing blanks, numbers optionally right-aligned. Used by every command so the
 * output looks the same everywhere and stays easy to read with {@code grep} and
 * {@code awk}.
 */
final class Table {

    /** The most rows a table holds; commands list bounded sets, this is a guard. */
    static final int MAX_ROWS = 100_000;

    private final String[] headers;
    private final boolean[] right;
    private final List<String[]> rows = new ArrayList<>();

    /**
     * @param headers the column titles; a table created with {@link #noHeader(int)}
     *                prints none
     */
    Table(String... headers) {
        if (headers.length == 0) {
            throw new IllegalArgumentException("a table needs at least one column");
        }
        this.headers = headers.clone();
        this.right = new boolean[headers.length];
    }

    /**
     * @param columns the number of columns
     * @return a table that prints rows only, for key/value listings
     */
    static Table noHeader(int columns) {
        Table t = new Table(new String[columns]);
        return t;
    }

    /**
     * Right-aligns columns, for numbers.
     *
     * @param columns zero-based column indexes
     * @return this table
     */
    Table alignRight(int... columns) {
        for (int c : columns) {
            right[c] = true;
        }
        return this;
    }

    /**
     * @param cells one value per column; null prints as {@code -}
     * @return this table
     */
    Table row(Object... cells) {
        if (cells.length != headers.length) {
            throw new IllegalArgumentException("row has " + cells.length + " cells, the table has "
                    + headers.length + " columns");
        }
        if (rows.size() >= MAX_ROWS) {
            throw new IllegalStateException("table is limited to " + MAX_ROWS + " rows");
        }
        String[] r = new String[cells.length];
        for (int i = 0; i < cells.length; i++) {
            r[i] = cells[i] == null ? "-" : String.valueOf(cells[i]);
        }
        rows.add(r);
        return this;
    }

    /** @return whether no row was added */
    boolean isEmpty() {
        return rows.isEmpty();
    }

    /** @return the lines of the table, header first when there is one */
    List<String> lines() {
        boolean header = headers[0] != null;
        int[] width = new int[headers.length];
        if (header) {
            for (int i = 0; i < headers.length; i++) {
                width[i] = headers[i].length();
            }
        }
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        List<String> out = new ArrayList<>(rows.size() + 1);
        if (header) {
            out.add(line(headers, width));
        }
        for (String[] r : rows) {
            out.add(line(r, width));
        }
        return out;
    }

    /**
     * Prints the lines.
     *
     * @param out where to
     */
    void print(PrintStream out) {
        lines().forEach(out::println);
    }

    private String line(String[] cells, int[] width) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            String cell = cells[i];
            int pad = width[i] - cell.length();
            if (i > 0) {
                sb.append("  ");
            }
            if (right[i]) {
                sb.append(" ".repeat(pad)).append(cell);
            } else {
                sb.append(cell);
                if (i < cells.length - 1) {
                    sb.append(" ".repeat(pad));
                }
            }
        }
        // A right-aligned or padded last column never leaves blanks at the end of a line.
        int end = sb.length();
        while (end > 0 && sb.charAt(end - 1) == ' ') {
            end--;
        }
        return sb.substring(0, end);
    }

    @Override
    public String toString() {
        return "Table" + Arrays.toString(headers) + " with " + rows.size() + " rows";
    }
}
