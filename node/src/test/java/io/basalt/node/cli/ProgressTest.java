package io.basalt.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test
    void printsOneLinePerFinishedStepWhenNotOnATerminal() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (Progress p = Progress.start("write disk0", 64, "MiB", err, false)) {
            for (int i = 0; i < 64; i++) {
                p.step();
            }
        }
        try (Progress p = Progress.start("flatten web2", 1000, "grains", err, false)) {
            p.stepTo(400);
            p.stepTo(1000);
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2, lines.length, String.join(" | ", lines));
        assertTrue(lines[0].matches("write disk0: 64 MiB in \\d+\\.\\d s"), lines[0]);
        assertTrue(lines[1].matches("flatten web2: 1000 grains in \\d+\\.\\d s"), lines[1]);
    }

    @Test
    void redrawsABarOnATerminal() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (Progress p = Progress.start("write disk0", 4, "MiB", err, true)) {
            p.stepTo(4);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        // The bar library redraws in place with carriage returns and shows the count of the max.
        assertTrue(out.contains("\r") && out.contains("4/4"), out);
    }
}
