package io.kizuna.examples.files.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SafeNamesTest {

    @Test
    void plainNamesStay() {
        assertThat(SafeNames.of("report 2026 (final).pdf")).isEqualTo("report 2026 (final).pdf");
        assertThat(SafeNames.of("données-été.txt")).isEqualTo("données-été.txt");
    }

    @Test
    void directoriesAndLeadingDotsGo() {
        assertThat(SafeNames.of("../../etc/passwd")).isEqualTo("passwd");
        assertThat(SafeNames.of("C:\\Users\\me\\notes.txt")).isEqualTo("notes.txt");
        assertThat(SafeNames.of(".bashrc")).isEqualTo("bashrc");
        assertThat(SafeNames.of("/abs/..hidden")).isEqualTo("hidden");
    }

    @Test
    void otherCharactersBecomeUnderscores() {
        assertThat(SafeNames.of("a\u0000b\nc;rm -rf*.txt")).isEqualTo("a_b_c_rm -rf_.txt");
        assertThat(SafeNames.of("x".repeat(500))).hasSize(SafeNames.MAX_LENGTH);
    }

    @Test
    void nothingUsableIsRefused() {
        assertThatThrownBy(() -> SafeNames.of("..")).hasMessageContaining("'..' has nothing usable");
        assertThatThrownBy(() -> SafeNames.of("dir/")).hasMessageContaining("nothing usable");
        assertThatThrownBy(() -> SafeNames.of("***")).hasMessageContaining("nothing usable");
    }

    @Test
    void copiesAreNumberedBeforeTheExtension() {
        assertThat(SafeNames.numbered("report.pdf", 2)).isEqualTo("report-2.pdf");
        assertThat(SafeNames.numbered("README", 1)).isEqualTo("README-1");
    }
}
