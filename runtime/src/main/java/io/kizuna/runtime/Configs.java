package io.kizuna.runtime;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Configuration files in the Karaf style: {@code etc/<pid>.cfg} holds the
 * properties of one ConfigAdmin PID, {@code etc/<factory-pid>-<name>.cfg} one
 * instance of a factory PID. The distribution's {@code etc/} gives the defaults;
 * a node's {@code <home>/etc/} overrides them key by key, at start and, through
 * FileInstall and {@link DefaultsPlugin}, whenever a file there changes.
 */
final class Configs {

    /** The most configuration files read from one folder. */
    static final int MAX_FILES = 1000;

    /**
     * One configuration to apply.
     *
     * @param pid        the PID, or the factory PID when {@code name} is set
     * @param name       the factory configuration's name, or null for a plain PID
     * @param properties the properties
     * @param sources    the files it came from
     */
    record Config(String pid, String name, Map<String, String> properties, List<Path> sources) {

        /** @return {@code pid} or {@code factoryPid~name}, for messages */
        String label() {
            return name == null ? pid : pid + "~" + name;
        }
    }

    private static final java.util.regex.Pattern ENDPOINT = java.util.regex.Pattern.compile("[a-z][a-z0-9-]*://\\S+");

    private Configs() {
    }

    /**
     * The value to give ConfigAdmin for a property: a comma-separated list of
     * endpoints ({@code listen = tcp://127.0.0.1:7400, tcp://[::1]:7400}) becomes a
     * String[], which a component's {@code String[]} attribute receives element by
     * element; anything else stays a String, which DS converts to the attribute's type.
     *
     * @param value the text from the file
     * @return a String or a String[]
     */
    static Object typed(String value) {
        if (value.indexOf(',') < 0) {
            return value;
        }
        String[] items = value.split(",");
        for (int i = 0; i < items.length; i++) {
            items[i] = items[i].trim();
            if (!ENDPOINT.matcher(items[i]).matches()) {
                return value;
            }
        }
        return items;
    }

    /**
     * Reads and merges the folders, later ones overriding earlier ones key by key.
     *
     * @param folders the {@code etc} folders, defaults first; missing folders are skipped
     * @return the configurations, by file name
     * @throws IOException naming the file that could not be read
     */
    static List<Config> read(Path... folders) throws IOException {
        Map<String, Config> merged = new TreeMap<>();
        for (Path folder : folders) {
            if (!Files.isDirectory(folder)) {
                continue;
            }
            int count = 0;
            try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "*.cfg")) {
                for (Path file : files) {
                    if (++count > MAX_FILES) {
                        throw new IOException("more than " + MAX_FILES + " .cfg files in " + folder);
                    }
                    String base = file.getFileName().toString();
                    base = base.substring(0, base.length() - ".cfg".length());
                    Map<String, String> props = load(file);
                    Config previous = merged.get(base);
                    Map<String, String> all = new TreeMap<>(previous == null ? Map.of() : previous.properties());
                    all.putAll(props);
                    List<Path> sources = new ArrayList<>(previous == null ? List.of() : previous.sources());
                    sources.add(file);
                    int dash = base.indexOf('-');
                    merged.put(base, dash > 0
                            ? new Config(base.substring(0, dash), base.substring(dash + 1), all, sources)
                            : new Config(base, null, all, sources));
                }
            }
        }
        // A file of comments only documents the defaults: no configuration is created for it.
        return merged.values().stream().filter(c -> !c.properties().isEmpty()).toList();
    }

    /**
     * Reads every {@code .cfg} file of one folder on its own, files of comments
     * only included: what FileInstall, watching that folder, applies for each.
     *
     * @param folder the folder; a missing one has no files
     * @return one configuration per file, by file name
     * @throws IOException naming the file that could not be read
     */
    static List<Config> readEach(Path folder) throws IOException {
        List<Config> out = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return out;
        }
        Map<String, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(folder, "*.cfg")) {
            for (Path file : s) {
                if (files.size() >= MAX_FILES) {
                    throw new IOException("more than " + MAX_FILES + " .cfg files in " + folder);
                }
                files.put(file.getFileName().toString(), file);
            }
        }
        for (Path file : files.values()) {
            String base = file.getFileName().toString();
            base = base.substring(0, base.length() - ".cfg".length());
            int dash = base.indexOf('-');
            Map<String, String> props = load(file);
            out.add(dash > 0 ? new Config(base.substring(0, dash), base.substring(dash + 1), props, List.of(file))
                    : new Config(base, null, props, List.of(file)));
        }
        return out;
    }

    /**
     * What a component receives for a configuration: its own properties, the
     * distribution's defaults for the keys it does not name, and every list of
     * endpoints as an array ({@link #typed}).
     *
     * @param properties the configuration's properties, as a file or ConfigAdmin holds them; changed in place
     * @param defaults   the distribution's values for this PID; empty when it has none
     */
    static void layer(java.util.Dictionary<String, Object> properties, Map<String, String> defaults) {
        defaults.forEach((k, v) -> {
            if (properties.get(k) == null) {
                properties.put(k, v);
            }
        });
        List<String> keys = java.util.Collections.list(properties.keys());
        for (String k : keys) {
            if (properties.get(k) instanceof String v) {
                properties.put(k, typed(v.trim()));
            }
        }
    }

    private static Map<String, String> load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
        Map<String, String> out = new TreeMap<>();
        p.stringPropertyNames().forEach(k -> out.put(k, p.getProperty(k).trim()));
        return out;
    }
}
