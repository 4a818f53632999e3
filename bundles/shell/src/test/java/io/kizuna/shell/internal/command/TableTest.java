package io.kizuna.shell.internal.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TableTest {

    @Test
    void columnsAreAlignedWithTwoSpacesAndNoTrailingBlanks() {
        Table t = new Table("NAME", "PRIORITY", "STATUS").alignRight(1);
        t.row("tcp", 100, "available");
        t.row("websocket", 7, null);
        assertThat(t.lines()).containsExactly(
                "NAME       PRIORITY  STATUS",
                "tcp             100  available",
                "websocket         7  -");
    }

    @Test
    void rightAlignedLastColumnAndWideHeader() {
        Table t = new Table("A", "LONG HEADER").alignRight(1);
        t.row("xyz", 5);
        assertThat(t.lines()).containsExactly(
                "A    LONG HEADER",
                "xyz            5");
    }

    @Test
    void tableWithoutHeaderPrintsRowsOnly() {
        Table t = Table.noHeader(2);
        t.row("peer id", "abc");
        t.row("", "second");
        assertThat(t.lines()).containsExactly("peer id  abc", "         second");
        assertThat(t.isEmpty()).isFalse();
    }

    @Test
    void rowWithTheWrongNumberOfCellsIsRefused() {
        Table t = new Table("A", "B");
        assertThatThrownBy(() -> t.row("only one")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 cells").hasMessageContaining("2 columns");
    }

    @Test
    void emptyTablePrintsTheHeader() {
        Table t = new Table("A", "B");
        assertThat(t.isEmpty()).isTrue();
        assertThat(t.lines()).containsExactly("A  B");
    }
}
