package io.kizuna.examples.unix.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** The documented sample configuration file against the bundle's metatype: every key, with the code's default. */
class SampleConfigTest {

    private static final Pattern LINE = Pattern.compile("(?m)^#?[ \\t]*([A-Za-z][\\w.]*)[ \\t]*=[ \\t]*(.*?)[ \\t]*$");
    private static final Pattern AD = Pattern.compile("<AD id=\"([^\"]+)\"[^>]*?default=\"([^\"]*)\"");

    @Test
    void theSampleFileDocumentsEveryKeyWithItsDefault() throws Exception {
        Map<String, String> metatype = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(Path.of("target/classes/OSGI-INF/metatype"))) {
            for (Path f : files) {
                Matcher m = AD.matcher(Files.readString(f, StandardCharsets.UTF_8));
                while (m.find()) {
                    metatype.put(m.group(1), m.group(2));
                }
            }
        }
        Map<String, String> documented = new TreeMap<>();
        Matcher m = LINE.matcher(Files.readString(Path.of("io.kizuna.examples.unix.cfg"),
                StandardCharsets.UTF_8));
        while (m.find()) {
            documented.put(m.group(1), m.group(2));
        }
        assertThat(metatype).as("keys in the metatype").isNotEmpty();
        assertThat(documented).isEqualTo(metatype);
    }
}
