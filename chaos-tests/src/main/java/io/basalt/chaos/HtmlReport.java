package io.basalt.chaos;

import java.util.List;
import java.util.Locale;

/**
 * {@code chaos.html}: one self-contained page (inline SVG, no script, nothing fetched) with every
 * operation's latency over the run, on a log scale, coloured by outcome, and the fault windows
 * shaded and labelled; then the report's text. Beyond {@link #POINTS_MAX} operations the
 * successful ones are thinned evenly; failed and indeterminate ones are always drawn.
 */
final class HtmlReport {
    static final int POINTS_MAX = 20_000;
    private static final int WIDTH = 1200;
    private static final int HEIGHT = 420;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 20;
    private static final int BOTTOM = 40;
    /** The latency axis: 0.1 ms .. 100 s, log scale. */
    private static final double LATENCY_MS_MIN = 0.1;
    private static final double LATENCY_MS_MAX = 100_000;

    private HtmlReport() {}

    static String render(Report report) {
        List<History.Completed> ops = report.completed();
        double endS = Math.max(1, ops.stream().mapToLong(History.Completed::completedNs).max().orElse(0) / 1e9);
        for (Nemesis.Window w : report.faults()) {
            endS = Math.max(endS, w.endNs() / 1e9);
        }
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Basalt chaos run</title>\n")
                .append("<style>body{font-family:sans-serif;margin:20px}pre{background:#f6f6f6;padding:10px;overflow-x:auto}")
                .append(".ok{fill:#2a7}.fail{fill:#d33}.info{fill:#e90}.fault{fill:#f4c7c3;opacity:.6}</style></head><body>\n")
                .append("<h1>Basalt chaos run</h1>\n<p><b>").append(escape(report.summary())).append("</b></p>\n")
                .append("<p>Latency of every operation (ms, log scale) over the run (s); green ok, red failed, orange indeterminate;")
                .append(" shaded: fault windows (hover for the fault).</p>\n");
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">%n", WIDTH, HEIGHT,
                WIDTH, HEIGHT));
        faults(b, report, endS);
        axes(b, endS);
        points(b, ops, endS);
        b.append("</svg>\n<h2>Report</h2>\n<pre>").append(escape(report.text())).append("</pre>\n</body></html>\n");
        return b.toString();
    }

    private static void faults(StringBuilder b, Report report, double endS) {
        for (Nemesis.Window w : report.faults()) {
            double x0 = x(w.startNs() / 1e9, endS);
            double x1 = Math.max(x0 + 1, x(w.endNs() / 1e9, endS));
            b.append(String.format(Locale.ROOT, "<rect class=\"fault\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"><title>fault %d: %s pids %s, %.1f..%.1f s</title></rect>%n",
                    x0, TOP, x1 - x0, HEIGHT - TOP - BOTTOM, w.fault().index(), escape(w.fault().describe()), w.pids(), w.startNs() / 1e9, w.endNs() / 1e9));
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%s</text>%n", x0 + 2, TOP + 12,
                    escape(w.fault().kind().name().toLowerCase(Locale.ROOT).replace('_', '-'))));
        }
    }

    private static void axes(StringBuilder b, double endS) {
        int bottom = HEIGHT - BOTTOM;
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>%n", LEFT, bottom, WIDTH - RIGHT, bottom));
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>%n", LEFT, TOP, LEFT, bottom));
        for (double ms = LATENCY_MS_MIN; ms <= LATENCY_MS_MAX; ms *= 10) {
            double y = y(ms);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", LEFT, y, WIDTH - RIGHT, y));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s ms</text>%n", LEFT - 4, y + 4,
                    ms < 1 ? String.valueOf(ms) : String.valueOf((long) ms)));
        }
        double stepS = niceStep(endS / 10);
        for (double s = 0; s <= endS; s += stepS) {
            double x = x(s, endS);
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d s</text>%n", x, bottom + 16, (long) s));
        }
    }

    private static void points(StringBuilder b, List<History.Completed> ops, double endS) {
        long okCount = ops.stream().filter(c -> c.type() == History.Type.ok).count();
        long keepEvery = Math.max(1, okCount / POINTS_MAX);
        long seen = 0;
        for (History.Completed c : ops) {
            if (c.type() == History.Type.ok && seen++ % keepEvery != 0) {
                continue;
            }
            double latencyMs = Math.max(LATENCY_MS_MIN, (c.completedNs() - c.invokedNs()) / 1e6);
            b.append(String.format(Locale.ROOT, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"/>%n", c.type().name(), x(c.completedNs() / 1e9, endS),
                    y(latencyMs), c.type() == History.Type.ok ? "1.2" : "2.5"));
        }
    }

    private static double x(double s, double endS) {
        return LEFT + s / endS * (WIDTH - LEFT - RIGHT);
    }

    private static double y(double ms) {
        double clamped = Math.min(LATENCY_MS_MAX, Math.max(LATENCY_MS_MIN, ms));
        double f = (Math.log10(clamped) - Math.log10(LATENCY_MS_MIN)) / (Math.log10(LATENCY_MS_MAX) - Math.log10(LATENCY_MS_MIN));
        return HEIGHT - BOTTOM - f * (HEIGHT - TOP - BOTTOM);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    private static double niceStep(double raw) {
        double p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-3))));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * p >= raw) {
                return m * p;
            }
        }
        return 10 * p;
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
