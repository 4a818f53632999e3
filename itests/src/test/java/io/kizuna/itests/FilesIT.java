package io.kizuna.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import javax.inject.Inject;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;

/**
 * The file transfer example (examples/files) between two nodes on loopback:
 * this framework sends with {@code files:send}, a node of the runtime
 * distribution with the bundle in its deploy folder receives into its
 * configured folder, within its size limit, under safe names.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class FilesIT {

    private static final long LIMIT = 200_000;

    @Inject
    private BundleContext context;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("files"),
                mavenBundle("io.kizuna", "examples-files").versionAsInProject()};
    }

    @Test(timeout = 180_000)
    public void filesArriveWholeWithinTheLimitUnderSafeNames() throws Exception {
        Path jar = Path.of(Itest.property(Itest.FILES_BUNDLE));
        try (RemoteNode remote = RemoteNode.start("files-remote", "tcp://127.0.0.1:0",
                Map.of("io.kizuna.examples.files.cfg", "folder = inbox\nmaxFileBytes = " + LIMIT + "\n"),
                List.of(jar))) {
            Path outbox = Itest.workFolder("files-outbox");
            byte[] data = new byte[150_000];
            new Random(7).nextBytes(data);
            Path file = Files.write(outbox.resolve("photo.jpg"), data);

            String sent = Gogo.run(context, "files:send " + remote.address() + " " + file).ok();
            assertTrue(sent, sent.matches("(?s)sent photo\\.jpg \\(150000 bytes\\) to \\S+ as photo\\.jpg over tcp "
                    + "in [\\d.]+ s, sha256 verified.*"));
            Path inbox = remote.home().resolve("inbox");
            assertArrayEquals(data, Files.readAllBytes(inbox.resolve("photo.jpg")));

            String again = Gogo.run(context, "files:send " + remote.address() + " " + file).ok();
            assertTrue(again, again.contains(" as photo-1.jpg "));

            Path odd = Files.write(outbox.resolve("..odd name;$(x).txt"), new byte[] {1, 2, 3});
            String safe = Gogo.run(context, "files:send " + remote.address() + " '" + odd + "'").ok();
            assertTrue(safe, safe.contains(" as odd name__(x).txt "));
            assertTrue(Files.exists(inbox.resolve("odd name__(x).txt")));

            Path big = Files.write(outbox.resolve("big.bin"), new byte[(int) LIMIT + 1]);
            Gogo.Result refused = Gogo.run(context, "files:send " + remote.address() + " " + big);
            assertNotNull("sending over the limit fails: " + refused.output(), refused.failure());
            assertTrue(refused.failure().getMessage(), refused.failure().getMessage().contains(
                    "did not take big.bin: the file of 200001 bytes is larger than this node accepts "
                            + "(maxFileBytes=200000)"));
            try (var stored = Files.list(inbox)) {
                assertEquals("nothing of the refused file, no part files", List.of("odd name__(x).txt", "photo-1.jpg",
                        "photo.jpg"), stored.map(p -> p.getFileName().toString()).sorted().toList());
            }

            Gogo.Result missing = Gogo.run(context, "files:send " + remote.address() + " " + outbox.resolve("nope"));
            assertTrue(String.valueOf(missing.failure()), missing.failure().getMessage().contains("not a readable file"));
        }
    }
}
