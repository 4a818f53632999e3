package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ScriptsTest {

    @Test
    void splitsAtSemicolonsAndLineBreaks() {
        assertThat(Scripts.split("kizuna:id; kizuna:connect a@tcp://127.0.0.1:1\nkizuna:ping a 3;;"))
                .containsExactly("kizuna:id", "kizuna:connect a@tcp://127.0.0.1:1", "kizuna:ping a 3");
    }

    @Test
    void keepsQuotesBracketsAndEscapesWhole() {
        assertThat(Scripts.split("echo 'a;b'; echo \"c;d\"; each [1 2] { echo $it; echo x }; echo (a;b); echo e\\;f"))
                .containsExactly("echo 'a;b'", "echo \"c;d\"", "each [1 2] { echo $it; echo x }", "echo (a;b)",
                        "echo e\\;f");
    }

    @Test
    void blankScriptHasNoCommands() {
        assertThat(Scripts.split(" ; \n ")).isEmpty();
    }

    @Test
    void unbalancedInputIsRefused() {
        assertThatThrownBy(() -> Scripts.split("echo 'open")).hasMessageContaining("unclosed '");
        assertThatThrownBy(() -> Scripts.split("each { echo")).hasMessageContaining("unclosed bracket");
        assertThatThrownBy(() -> Scripts.split("echo }")).hasMessageContaining("unbalanced '}'");
    }

    @Test
    void theNumberOfCommandsIsBounded() {
        String many = "kizuna:id;".repeat(Scripts.MAX_COMMANDS + 1);
        assertThatThrownBy(() -> Scripts.split(many)).hasMessageContaining("more than 1000 commands");
        assertThat(Scripts.split("kizuna:id;".repeat(Scripts.MAX_COMMANDS))).hasSize(Scripts.MAX_COMMANDS);
    }
}
