package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.History.Completed;
import io.basalt.chaos.History.Type;

class ReportTest {
    private static final long MS = 1_000_000;

    private static Nemesis.Window window(int index, Schedule.Kind kind, long startMs, long endMs) {
        return new Nemesis.Window(new Schedule.Fault(index, kind, List.of(1), startMs, 0, Math.max(1, endMs - startMs)), List.of(100L + index),
                startMs * MS, endMs * MS, endMs * MS);
    }

    private static Completed op(long invokedMs, long completedMs, Type type) {
        return new Completed("registers", 1, "read", 0, invokedMs * MS, completedMs * MS, type);
    }

    @Test
    void recoveryIsTheFirstSuccessInvokedAfterTheFaultEnded() {
        List<Nemesis.Window> faults = List.of(window(1, Schedule.Kind.KILL_ONE, 100, 200), window(2, Schedule.Kind.PAUSE_ONE, 1000, 2000));
        List<Completed> ops = List.of(op(150, 900, Type.ok), // invoked during the fault: not a recovery
                op(210, 260, Type.fail), op(220, 450, Type.ok), op(230, 300, Type.ok), op(2100, 2200, Type.info));
        assertEquals(List.of(100L, Report.NO_RECOVERY), Report.recoveryMs(faults, ops));
    }

    @Test
    void theSummaryLineSaysTheVerdictAndALossMakesItInvalid() {
        List<Nemesis.Window> faults = List.of(window(1, Schedule.Kind.KILL_ALL, 100, 200), window(2, Schedule.Kind.KILL_ALL, 300, 400),
                window(3, Schedule.Kind.PAUSE_MAJORITY, 500, 900));
        Report valid = new Report(10, 2, 3, Map.of("registers", new long[] {10, 2, 3}), faults, List.of(5L, 6L, 7L), List.of(), List.of(), null,
                List.of(op(0, 1, Type.ok)));
        assertTrue(valid.valid());
        assertEquals("chaos: 10 ok, 2 failed, 3 info; faults 3; lost 0; violations 0; verdict valid", valid.summary());
        assertEquals(Map.of("kill-all", 2, "pause-majority", 1), valid.faultsByKind());
        assertTrue(valid.text().endsWith(valid.summary() + "\n"), valid.text());

        Report lost = new Report(10, 2, 3, Map.of(), faults, List.of(5L, 6L, 7L), List.of("key 1: acknowledged write 7 lost"), List.of(), null, List.of());
        assertFalse(lost.valid());
        assertEquals("chaos: 10 ok, 2 failed, 3 info; faults 3; lost 1; violations 0; verdict invalid", lost.summary());
    }

    @Test
    void thePageShadesEveryFaultAndDrawsEveryFailure() {
        List<Nemesis.Window> faults = List.of(window(1, Schedule.Kind.KILL_ONE, 100, 200), window(2, Schedule.Kind.PAUSE_ONE, 1000, 2000));
        Report r = new Report(2, 1, 1, Map.of(), faults, List.of(1L, 2L), List.of(), List.of("register 0: a <stale> read"), "w", List.of(
                op(0, 10, Type.ok), op(20, 30, Type.ok), op(150, 900, Type.fail), op(1500, 2500, Type.info)));
        String html = HtmlReport.render(r);
        assertEquals(2, html.split("class=\"fault\"", -1).length - 1, "one shaded window per fault");
        assertEquals(1, html.split("class=\"fail\"", -1).length - 1);
        assertEquals(1, html.split("class=\"info\"", -1).length - 1);
        assertTrue(html.contains("a &lt;stale&gt; read"), "the report's text is escaped into the page");
        assertFalse(html.contains("<script"), "self-contained, no script");
    }
}
