package io.basalt.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.basalt.iscsi.pdu.Bytes;
import io.basalt.iscsi.pdu.ScsiCommand;
import io.basalt.iscsi.pdu.Transfer;
import io.netty.buffer.Unpooled;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class TaskTableTest {

    private final TaskTable table = new TaskTable();

    private static Task task(int itt, int lun, int bytes) {
        long lunField = (long) lun << 48;
        return new Task(new ScsiCommand(false, true, ScsiCommand.ATTR_SIMPLE, lunField, itt, Transfer.write(bytes), 1, 0,
                Bytes.wrapOwned(new byte[16]), Unpooled.EMPTY_BUFFER));
    }

    @Test
    void finishingFreesTheTagAndTheByteBudgetOnce() {
        Task a = task(1, 0, 4096);
        table.add(a, 4096);
        table.add(task(2, 0, 512), 512);
        assertEquals(4608, table.inflightBytes());
        table.finish(a);
        table.finish(a);
        assertEquals(512, table.inflightBytes(), "a second finish changes nothing");
        assertNull(table.get(1));
        assertEquals(1, table.size());
    }

    @Test
    void abortingAnUnstartedTaskForgetsItAndAStartedOneReportsWhetherItRuns() {
        Task waiting = task(1, 0, 4096);
        waiting.buffer = Unpooled.directBuffer(4096);
        Task running = task(2, 0, 0);
        running.execution = new CompletableFuture<>();
        Task done = task(3, 0, 0);
        done.execution = CompletableFuture.completedFuture(null);
        table.add(waiting, 4096);
        table.add(running, 0);
        table.add(done, 0);

        assertFalse(table.abort(waiting));
        assertNull(waiting.buffer, "its data-out buffer went back");
        assertFalse(table.contains(1));
        assertTrue(table.abort(running), "still on the device");
        assertFalse(table.abort(done));
        assertTrue(running.aborted && done.aborted);
        assertEquals(2, table.size(), "started tasks stay until their completion finishes them");
    }

    @Test
    void listsTasksByLunAndExecutionsOfStartedOnes() {
        Task a = task(1, 0, 0);
        Task b = task(2, 1, 0);
        b.execution = new CompletableFuture<>();
        table.add(a, 0);
        table.add(b, 0);
        assertEquals(List.of(b), table.onLun(1));
        assertEquals(List.of(b.execution), table.executions());
        assertEquals(2, table.all().size());
    }
}
