package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The documented default files in {@code src/main/dist/etc} (which the Karaf
 * features ship as well) against the bundles' own metatype: every PID a bundle
 * reads has its file, and every key of it is there with the default the code
 * has, so the files cannot fall behind the {@code *Config} annotations.
 */
class DefaultConfigsTest {

    private static final Path ETC = Path.of("src/main/dist/etc");

    /** Exists only while configured, by tests: a production node never has it. */
    private static final String MEMORY_PID = "io.kizuna.memory";

    /** {@code # key = value} or {@code key = value}. */
    private static final Pattern LINE =
            Pattern.compile("(?m)^#?[ \\t]*(\\.?[A-Za-z][\\w.]*)[ \\t]*=[ \\t]*(.*?)[ \\t]*$");

    @Test
    void everyPidOfTheBundlesHasItsFileWithEveryKeyAndItsDefault() throws Exception {
        Map<String, Map<String, String>> pids = metatypeDefaults();
        assertThat(pids).as("PIDs found in the bundles' metatype").containsKeys("io.kizuna.core", "io.kizuna.tcp");

        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Map<String, String>> pid : pids.entrySet()) {
            Path file = ETC.resolve(pid.getKey() + ".cfg");
            if (!Files.isRegularFile(file)) {
                problems.add(file + " is missing");
                continue;
            }
            Map<String, String> documented = new LinkedHashMap<>();
            Matcher m = LINE.matcher(Files.readString(file, StandardCharsets.UTF_8));
            while (m.find()) {
                documented.putIfAbsent(m.group(1), m.group(2));
            }
            for (Map.Entry<String, String> key : pid.getValue().entrySet()) {
                String value = documented.get(key.getKey());
                if (value == null) {
                    problems.add(file + " does not document " + key.getKey());
                } else if (!value.replaceAll(",\\s+", ",").equals(key.getValue())) {
                    problems.add(file + ": " + key.getKey() + " shows '" + value + "', the code's default is '"
                            + key.getValue() + "'");
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    /** PID to (key to default, "" when there is none) from every bundle on the class path. */
    private static Map<String, Map<String, String>> metatypeDefaults() throws Exception {
        Map<String, Map<String, String>> pids = new TreeMap<>();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!entry.endsWith(".jar") || !Path.of(entry).getFileName().toString().matches(
                    "(api|identity|core|tcp|quic|nat|websocket|relay|shell|webrtc)-.*")) {
                continue;
            }
            try (JarFile jar = new JarFile(entry)) {
                for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                    JarEntry j = e.nextElement();
                    if (!j.getName().startsWith("OSGI-INF/metatype/") || !j.getName().endsWith(".xml")) {
                        continue;
                    }
                    Document doc;
                    try (InputStream in = jar.getInputStream(j)) {
                        doc = factory.newDocumentBuilder().parse(in);
                    }
                    Element designate = (Element) doc.getElementsByTagName("Designate").item(0);
                    String pid = designate.getAttribute("pid");
                    if (pid.equals(MEMORY_PID)) {
                        continue;
                    }
                    Map<String, String> keys = new TreeMap<>();
                    NodeList ads = doc.getElementsByTagName("AD");
                    for (int i = 0; i < ads.getLength(); i++) {
                        Element ad = (Element) ads.item(i);
                        keys.put(ad.getAttribute("id"), ad.getAttribute("default"));
                    }
                    pids.put(pid, keys);
                }
            }
        }
        return pids;
    }
}
