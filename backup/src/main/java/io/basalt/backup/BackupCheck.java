package io.basalt.backup;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * {@code basalt backup verify}, and the check a restore makes before it writes: reads every chunk
 * the chosen backups name (in pack order, so the repository is read sequentially), checks its
 * CRC32C and SHA-256, and names each damaged or missing chunk with the backups that use it.
 */
public final class BackupCheck {
    /** A chunk that cannot be restored, why, and every backup checked that names it. */
    public record Damage(String hash, String reason, List<String> backups) {}

    /** What a check found: chunks read, their raw bytes, and the damage (empty when all is well). */
    public record Report(List<String> backups, long chunkCount, long rawBytes, List<Damage> damage) {
        public boolean ok() {
            return damage.isEmpty();
        }
    }

    private BackupCheck() {}

    /** Checks every chunk of {@code manifests}; {@code progress} hears how many chunks are done. */
    public static Report check(Repository repo, List<Manifest> manifests, LongConsumer progress) {
        Map<String, List<String>> users = new LinkedHashMap<>();
        for (Manifest m : manifests) {
            for (Manifest.ChunkRef c : m.chunks()) {
                List<String> u = users.computeIfAbsent(c.hash(), h -> new ArrayList<>());
                if (u.isEmpty() || !u.getLast().equals(m.id())) {
                    u.add(m.id());
                }
            }
        }
        List<Damage> damage = new ArrayList<>();
        for (String hash : users.keySet()) {
            if (!repo.has(hash)) {
                damage.add(new Damage(hash, "in no pack", users.get(hash)));
            }
        }
        List<String> present = users.keySet().stream().filter(repo::has)
                .sorted(Comparator.comparing((String h) -> repo.locate(h).pack()).thenComparingLong(h -> repo.locate(h).offsetBytes())).toList();
        long rawBytes = 0;
        long done = 0;
        for (String hash : present) {
            try {
                rawBytes += repo.readChunk(hash).length;
            } catch (BackupException e) {
                damage.add(new Damage(hash, e.getMessage(), users.get(hash)));
            }
            progress.accept(++done);
        }
        return new Report(manifests.stream().map(Manifest::id).toList(), users.size(), rawBytes, List.copyOf(damage));
    }

    /** Refuses, naming the first damaged chunk and its backups, unless every chunk of {@code m} reads back whole. */
    public static void requireWhole(Repository repo, Manifest m, LongConsumer progress) {
        Report r = check(repo, List.of(m), progress);
        if (!r.ok()) {
            Damage d = r.damage().getFirst();
            throw new BackupException("backup " + m.id() + ": chunk " + d.hash() + " is damaged (" + d.reason() + "; used by " + d.backups()
                    + ", " + r.damage().size() + " damaged chunk(s) in all); nothing was written");
        }
    }
}
