package io.basalt.iscsi.session;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The commands of one connection, by initiator task tag, from admission to their response, and
 * the sum of their expected transfer lengths (the in-flight byte budget). Touched only on the
 * event loop.
 */
final class TaskTable {

    private final Map<Integer, Task> tasks = new HashMap<>();
    private long inflightBytes;

    int size() {
        return tasks.size();
    }

    boolean isEmpty() {
        return tasks.isEmpty();
    }

    /** The task with this tag, or null. */
    Task get(int itt) {
        return tasks.get(itt);
    }

    boolean contains(int itt) {
        return tasks.containsKey(itt);
    }

    long inflightBytes() {
        return inflightBytes;
    }

    /** Adds {@code t}, reserving {@code bytes} of the in-flight budget until {@link #finish}. */
    void add(Task t, long bytes) {
        tasks.put(t.itt, t);
        t.reservedBytes = bytes;
        inflightBytes += bytes;
    }

    /** Forgets {@code t}: frees its tag and its share of the in-flight byte budget. */
    void finish(Task t) {
        if (tasks.remove(t.itt, t)) {
            inflightBytes -= t.reservedBytes;
        }
    }

    /** Marks {@code t} aborted; returns true when it is still running on the device. */
    boolean abort(Task t) {
        t.aborted = true;
        if (t.execution == null) {
            t.releaseBuffer();
            finish(t);
            return false;
        }
        return !t.execution.isDone();
    }

    /** Every task, in the table's order (a copy: the caller may finish them). */
    List<Task> all() {
        return new ArrayList<>(tasks.values());
    }

    /** The tasks addressed to {@code lun}. */
    List<Task> onLun(int lun) {
        List<Task> out = new ArrayList<>();
        for (Task t : tasks.values()) {
            if (t.lun == lun) {
                out.add(t);
            }
        }
        return out;
    }

    /** The device executions of the tasks that have one (finished or not). */
    List<CompletableFuture<?>> executions() {
        List<CompletableFuture<?>> out = new ArrayList<>();
        for (Task t : tasks.values()) {
            if (t.execution != null) {
                out.add(t.execution);
            }
        }
        return out;
    }
}
