package io.basalt.chaos;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code basalt chaos ...}: the launcher runs this (module {@code chaos-tests}) instead of the
 * node's command line for {@code basalt chaos}, with the node's jars on the class path.
 */
@Command(name = "basalt chaos", mixinStandardHelpOptions = true, version = "basalt 0.1.0",
        description = "Run a cluster of real node processes under injected faults and check what the clients saw.",
        subcommands = {ChaosCommand.Run.class, CommandLine.HelpCommand.class})
public final class ChaosCommand implements Runnable {
    /** Exit status when the run found a lost write or a violation. */
    static final int EXIT_INVALID = 1;
    /** Exit status when the run itself could not be carried out (the cluster did not come up, a bad option). */
    static final int EXIT_ERROR = 2;

    @Spec CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        // The clients' Ratis warnings (a connection to a killed or frozen node that did not shut
        // down in time) are what the faults are meant to cause; they would bury the progress lines.
        if (System.getProperty("org.slf4j.simpleLogger.log.org.apache.ratis") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.ratis", "error");
        }
        System.exit(execute(args));
    }

    static int execute(String... args) {
        CommandLine cl = new CommandLine(new ChaosCommand());
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println(line.getCommandSpec().qualifiedName() + ": " + e.getMessage());
            if (!(e instanceof IllegalArgumentException)) {
                e.printStackTrace(line.getErr()); // not a bad option: how far the run got matters
            }
            line.getErr().flush();
            return EXIT_ERROR;
        });
        return cl.execute(args);
    }

    @Command(name = "run", mixinStandardHelpOptions = true, description = {"Start N `basalt node` processes in a run directory, run client workloads against them",
            "while a nemesis kills, pauses and partitions nodes on a seeded schedule, then check the history.",
            "Writes history.jsonl, faults.jsonl, report.txt, verdict.json and chaos.html to the run directory.",
            "Exit status: 0 valid, " + EXIT_INVALID + " a lost write or a violation, " + EXIT_ERROR + " the run could not be carried out."})
    static final class Run implements Callable<Integer> {
        @Spec CommandLine.Model.CommandSpec spec;
        @Option(names = "--workload", defaultValue = "all", description = "registers, durability, locks, model or all (default ${DEFAULT-VALUE}).") String workload;
        @Option(names = "--nemesis", defaultValue = "kill,pause,partition", description = {"Comma-separated: kill, pause, partition, disk, bitrot, flap, replace (default ${DEFAULT-VALUE}).",
                "Partitions and flap (a node cut off and healed many times) need root, iptables and cgroup v2; disk faults (power",
                "cuts, fsync failing, disk full, reads failing) need root, /dev/fuse and libfuse 2; without them the run says so and",
                "leaves them out. bitrot flips bits in grains stored on one node's replicas and checks the scrub repairs them;",
                "replace wipes a node and puts a new one in its place in every group."}) String nemesis;
        @Option(names = "--time", defaultValue = "60s", description = "How long faults are injected: 90s, 5m, 1h (default ${DEFAULT-VALUE}).") String time;
        @Option(names = "--seed", description = "Seed of the fault schedule and the workloads (default: from the clock, printed).") Long seed;
        @Option(names = "--nodes", defaultValue = "3", description = "Node processes (default ${DEFAULT-VALUE}).") int nodes;
        @Option(names = "--dir", description = "Run directory (default: ./chaos-runs/run-DATE-TIME-seed-N).") Path dir;
        /** The durability mutation, for the test that proves the checker can fail; never for a real run. */
        @Option(names = "--unsafe-ack-before-commit", hidden = true) boolean ackBeforeCommit;
        /** The fencing mutation (nodes whose PGs do not check tokens), for the test that proves the locks check can fail; never for a real run. */
        @Option(names = "--unsafe-skip-fence-check", hidden = true) boolean skipFenceCheck;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            long s = seed != null ? seed : System.nanoTime() & 0xffff_ffffL;
            Path d = dir != null ? dir : Path.of("chaos-runs", "run-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-seed-" + s);
            ChaosRun.Options options = new ChaosRun.Options(ChaosRun.Workload.parse(workload), Schedule.Nemesis.parse(nemesis), parseTime(time), s, nodes, d,
                    ackBeforeCommit, skipFenceCheck);
            Report report = new ChaosRun(options, line -> {
                out.println(line);
                out.flush();
            }).run();
            out.print(report.text().replace(report.summary() + "\n", ""));
            out.println("run directory: " + d.toAbsolutePath() + " (report.txt, verdict.json, chaos.html, history.jsonl, faults.jsonl, node-N.log)");
            out.println(report.summary());
            out.flush();
            return report.valid() ? 0 : EXIT_INVALID;
        }
    }

    private static final Pattern TIME = Pattern.compile("(\\d+)\\s*(s|m|h)?");

    /** {@code 90s}, {@code 5m}, {@code 1h}; a bare number is seconds. */
    static Duration parseTime(String text) {
        Matcher m = TIME.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new IllegalArgumentException("--time: " + text + " (expected: a positive number of seconds, minutes or hours: 90s, 5m, 1h)");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2) == null ? "s" : m.group(2)) {
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
    }
}
