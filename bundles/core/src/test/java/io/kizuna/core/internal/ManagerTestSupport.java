package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.kizuna.core.internal.memory.MemoryHub;

import org.junit.jupiter.api.AfterEach;

/** Nodes that are closed after each test, and waiting helpers. */
abstract class ManagerTestSupport {

    /** Each test class has its own in-process network. */
    final MemoryHub hub = new MemoryHub();
    private final List<Node> nodes = new ArrayList<>();

    Node node(ManagerSettings.Builder settings, String... transports) {
        Node n = Node.start(settings, hub, transports);
        nodes.add(n);
        return n;
    }

    Node node(String... transports) {
        return node(Node.settings(), transports);
    }

    @AfterEach
    void closeNodes() {
        nodes.forEach(Node::close);
        nodes.clear();
    }

    static <T> T get(CompletionStage<T> stage) throws Exception {
        try {
            return stage.toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = Async.unwrap(e);
            if (c instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    static Throwable failure(CompletionStage<?> stage) throws Exception {
        try {
            Object v = stage.toCompletableFuture().get(20, TimeUnit.SECONDS);
            return fail("expected a failure, got " + v);
        } catch (ExecutionException e) {
            return Async.unwrap(e);
        }
    }
}
