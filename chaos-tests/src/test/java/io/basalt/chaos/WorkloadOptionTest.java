package io.basalt.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.EnumSet;

import org.junit.jupiter.api.Test;

import io.basalt.chaos.ChaosRun.Workload;

/** {@code --workload}: each name, {@code all} with every workload, and a bad name refused with the accepted ones. */
class WorkloadOptionTest {
    @Test
    void parsesEachWorkloadAndAllIncludesLocksAndModel() {
        assertEquals(EnumSet.of(Workload.locks), Workload.parse("locks"));
        assertEquals(EnumSet.of(Workload.registers), Workload.parse(" Registers "));
        assertEquals(EnumSet.of(Workload.durability), Workload.parse("durability"));
        assertEquals(EnumSet.of(Workload.model), Workload.parse("model"));
        assertEquals(EnumSet.of(Workload.registers, Workload.durability, Workload.locks, Workload.model), Workload.parse("all"));
    }

    @Test
    void refusesAnUnknownWorkloadNamingTheAcceptedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Workload.parse("fences"));
        assertEquals("--workload: fences (expected: registers, durability, locks, model or all)", e.getMessage());
        assertEquals(ChaosCommand.EXIT_ERROR, ChaosCommand.execute("run", "--workload", "fences", "--time", "1s"));
    }
}
