import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Sums the Surefire and Failsafe XML reports that a run of ./run-tests wrote (those newer than a marker file),
 * over every module, and names each test that failed and each that passed only on a rerun (a flake).
 *
 * <pre>java cnf/TestSummary.java ROOT MARKER</pre>
 *
 * The XML reports are read rather than the text ones because a rerun rewrites a class's text report with the
 * last run's counts only; the XML keeps every test case once, with its failed attempts as flakyFailure,
 * flakyError, rerunFailure or rerunError elements.
 */
public final class TestSummary {

    private static final String PREFIX = "run-tests: ";

    private TestSummary() {
    }

    record Totals(int run, int failures, int errors, int skipped, List<String> failed, List<String> flaky) {
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        FileTime since = Files.getLastModifiedTime(Path.of(args[1]));
        for (String kind : List.of("surefire", "failsafe")) {
            List<Path> reports = reports(root, kind, since);
            if (reports.isEmpty()) {
                System.err.println(PREFIX + kind + ": no tests ran");
                continue;
            }
            Totals t = sum(reports);
            System.err.printf("%s%s: tests run: %d, failures: %d, errors: %d, skipped: %d, flakes: %d%n", PREFIX, kind,
                    t.run(), t.failures(), t.errors(), t.skipped(), t.flaky().size());
            t.failed().forEach(name -> System.err.println(PREFIX + kind + ": FAILED " + name));
            t.flaky().forEach(name -> System.err.println(PREFIX + kind + ": flaky, passed on a rerun: " + name));
        }
    }

    private static List<Path> reports(Path root, String kind, FileTime since) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml"))
                    .filter(p -> p.getParent().getFileName().toString().equals(kind + "-reports"))
                    .filter(p -> p.getParent().getParent().getFileName().toString().equals("target"))
                    .filter(p -> newer(p, since))
                    .sorted()
                    .toList();
        }
    }

    private static boolean newer(Path p, FileTime since) {
        try {
            return Files.getLastModifiedTime(p).compareTo(since) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static Totals sum(List<Path> reports) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        int run = 0;
        int failures = 0;
        int errors = 0;
        int skipped = 0;
        List<String> failed = new ArrayList<>();
        List<String> flaky = new ArrayList<>();
        for (Path report : reports) {
            var cases = factory.newDocumentBuilder().parse(report.toFile()).getElementsByTagName("testcase");
            for (int i = 0; i < cases.getLength(); i++) {
                Element c = (Element) cases.item(i);
                String name = c.getAttribute("classname") + "." + c.getAttribute("name");
                run++;
                if (has(c, "failure")) {
                    failures++;
                    failed.add(name + " (" + firstLine(c, "failure") + ")");
                } else if (has(c, "error")) {
                    errors++;
                    failed.add(name + " (" + firstLine(c, "error") + ")");
                } else if (has(c, "skipped")) {
                    skipped++;
                } else if (has(c, "flakyFailure") || has(c, "flakyError")) {
                    String first = has(c, "flakyFailure") ? firstLine(c, "flakyFailure") : firstLine(c, "flakyError");
                    int attempts = c.getElementsByTagName("flakyFailure").getLength()
                            + c.getElementsByTagName("flakyError").getLength();
                    flaky.add(name + " after " + attempts + " failed attempt" + (attempts == 1 ? "" : "s")
                            + " (first: " + first + ")");
                }
            }
        }
        return new Totals(run, failures, errors, skipped, failed, flaky);
    }

    private static boolean has(Element testcase, String tag) {
        for (Node n = testcase.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                return true;
            }
        }
        return false;
    }

    /** The element's message, or the first line of its text, cut to one readable line. */
    private static String firstLine(Element testcase, String tag) {
        Element e = (Element) testcase.getElementsByTagName(tag).item(0);
        String text = e.getAttribute("message");
        if (text.isBlank()) {
            text = e.getAttribute("type");
        }
        text = text.strip().lines().findFirst().orElse("no message");
        return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }
}
