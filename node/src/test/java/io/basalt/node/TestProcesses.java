package io.basalt.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starting {@code basalt} as its own process from a test, and finding the tools tests drive. */
public final class TestProcesses {
    private TestProcesses() {}

    /** {@code basalt ARGS} on this JVM's java and class path, as the launcher runs it. */
    public static ProcessBuilder basalt(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), "io.basalt.node.Main"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    /** The executable {@code tool} on the PATH, or null. */
    public static String which(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
