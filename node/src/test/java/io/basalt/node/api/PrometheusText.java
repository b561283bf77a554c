package io.basalt.node.api;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests (the Java client
 * ships writers only). It refuses what Prometheus would refuse: a bad metric or label name, a bad
 * escape, a value that is no float, a sample of a family whose TYPE was not declared first, a
 * TYPE declared twice; and for histograms, buckets that are not cumulative or whose +Inf bucket
 * is not the _count.
 */
public final class PrometheusText {
    record Sample(String name, Map<String, String> labels, double value) {}

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final List<String> TYPES = List.of("counter", "gauge", "histogram", "summary", "untyped");

    final Map<String, String> types = new LinkedHashMap<>();
    final List<Sample> samples = new ArrayList<>();

    public static PrometheusText parse(String text) {
        PrometheusText p = new PrometheusText();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            try {
                p.line(line);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("line " + (i + 1) + ": '" + line + "': " + e.getMessage(), e);
            }
        }
        p.checkHistograms();
        return p;
    }

    private void line(String line) {
        if (line.isEmpty()) {
            return;
        }
        if (line.startsWith("#")) {
            String[] parts = line.split(" ", 4);
            if (parts.length >= 3 && parts[1].equals("TYPE")) {
                require(NAME.matcher(parts[2]).matches(), "metric name: " + parts[2]);
                require(parts.length == 4 && TYPES.contains(parts[3]), "type: " + (parts.length == 4 ? parts[3] : "missing"));
                require(types.put(parts[2], parts[3]) == null, "TYPE of " + parts[2] + " declared twice");
            } else if (parts.length >= 3 && parts[1].equals("HELP")) {
                require(NAME.matcher(parts[2]).matches(), "metric name: " + parts[2]);
            }
            return;
        }
        int at = 0;
        Matcher m = NAME.matcher(line);
        require(m.lookingAt(), "no metric name");
        String name = m.group();
        at = m.end();
        Map<String, String> labels = new TreeMap<>();
        if (at < line.length() && line.charAt(at) == '{') {
            at = labels(line, at + 1, labels);
        }
        require(at < line.length() && line.charAt(at) == ' ', "expected a space before the value");
        String[] rest = line.substring(at + 1).trim().split(" ");
        require(rest.length <= 2, "trailing text: " + line.substring(at));
        double value = value(rest[0]);
        if (rest.length == 2) {
            Long.parseLong(rest[1]);
        }
        require(family(name).isPresent(), "sample " + name + " of no declared family (expected: a # TYPE line before it)");
        samples.add(new Sample(name, labels, value));
    }

    private static int labels(String line, int at, Map<String, String> labels) {
        while (true) {
            if (line.charAt(at) == '}') {
                return at + 1;
            }
            Matcher m = LABEL_NAME.matcher(line).region(at, line.length());
            require(m.lookingAt(), "label name at " + at);
            String label = m.group();
            at = m.end();
            require(line.startsWith("=\"", at), "expected =\" after label " + label);
            at += 2;
            StringBuilder v = new StringBuilder();
            while (line.charAt(at) != '"') {
                char c = line.charAt(at++);
                if (c == '\\') {
                    char e = line.charAt(at++);
                    require(e == '\\' || e == '"' || e == 'n', "escape \\" + e);
                    v.append(e == 'n' ? '\n' : e);
                } else {
                    v.append(c);
                }
            }
            at++;
            require(labels.put(label, v.toString()) == null, "label " + label + " twice");
            if (line.charAt(at) == ',') {
                at++;
            }
        }
    }

    private static double value(String text) {
        return switch (text) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(text);
        };
    }

    /** The family a sample belongs to: its own name, or a histogram's or summary's with a suffix taken off. */
    private Optional<String> family(String sample) {
        if (types.containsKey(sample)) {
            return Optional.of(sample);
        }
        for (String suffix : List.of("_bucket", "_count", "_sum", "_total", "_created")) {
            if (sample.endsWith(suffix) && types.containsKey(sample.substring(0, sample.length() - suffix.length()))) {
                return Optional.of(sample.substring(0, sample.length() - suffix.length()));
            }
        }
        return Optional.empty();
    }

    /** Each histogram series: buckets cumulative in le order, the +Inf one equal to _count. */
    private void checkHistograms() {
        Map<Map<String, String>, TreeMap<Double, Double>> buckets = new HashMap<>();
        for (Sample s : samples) {
            if (s.name().endsWith("_bucket") && "histogram".equals(types.get(s.name().substring(0, s.name().length() - 7)))) {
                Map<String, String> series = new TreeMap<>(s.labels());
                String le = series.remove("le");
                require(le != null, "bucket without le: " + s);
                series.put("__name__", s.name().substring(0, s.name().length() - 7));
                buckets.computeIfAbsent(series, k -> new TreeMap<>()).put(value(le), s.value());
            }
        }
        buckets.forEach((series, byLe) -> {
            double last = 0;
            for (double count : byLe.values()) {
                require(count >= last, "buckets of " + series + " not cumulative: " + byLe);
                last = count;
            }
            Map<String, String> countLabels = new TreeMap<>(series);
            String name = countLabels.remove("__name__");
            double count = value(name + "_count", countLabels).orElseThrow(() -> new IllegalArgumentException("no _count for " + series));
            require(byLe.containsKey(Double.POSITIVE_INFINITY) && byLe.get(Double.POSITIVE_INFINITY) == count,
                    "+Inf bucket of " + series + " is not its _count " + count);
        });
    }

    /** The value of the one sample {@code name} with exactly {@code labels}. */
    public Optional<Double> value(String name, Map<String, String> labels) {
        return samples.stream().filter(s -> s.name().equals(name) && s.labels().equals(labels)).map(Sample::value).findFirst();
    }

    private static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what);
        }
    }
}
