package io.basalt.backup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * {@code basalt backup prune}: keeps, per vdisk, the newest {@code keepLast} backups and the
 * newest backup of each of the newest {@code keepDaily} days and {@code keepWeekly} ISO weeks that
 * have one (as restic's policy); removes the other manifests, then the chunks no manifest names.
 *
 * <p>Crash-safe order: manifests go first (each removal durable), so a crash leaves chunks nothing
 * uses, never a manifest without its chunks. A pack only partly dead is copied (its live chunks
 * into a new pack, durable) before it is removed; a crash between leaves the chunks twice, which
 * the next prune tidies.
 */
public final class BackupPrune {
    /** How many to keep; each 0 or more, at least one above 0. */
    public record Policy(int keepLast, int keepDaily, int keepWeekly) {
        public Policy {
            if (keepLast < 0 || keepDaily < 0 || keepWeekly < 0 || keepLast + keepDaily + keepWeekly == 0) {
                throw new IllegalArgumentException("keep: last " + keepLast + ", daily " + keepDaily + ", weekly " + keepWeekly
                        + " (expected: none negative, at least one above 0: pruning would remove every backup)");
            }
        }
    }

    /** What a prune did. */
    public record Result(List<String> kept, List<String> removed, int packsRemoved, int packsRewritten, long freedBytes) {}

    private BackupPrune() {}

    public static Result prune(Repository repo, Policy policy, ZoneId zone) {
        List<Manifest> all = repo.manifests();
        Set<String> keep = keep(all, policy, zone);
        List<String> removed = new ArrayList<>();
        for (Manifest m : all) {
            if (!keep.contains(m.id())) {
                repo.deleteManifest(m.id());
                removed.add(m.id());
            }
        }
        Set<String> live = new HashSet<>();
        all.stream().filter(m -> keep.contains(m.id())).forEach(m -> m.chunks().forEach(c -> live.add(c.hash())));
        long[] freed = new long[1];
        int[] packs = new int[2]; // removed, rewritten
        try {
            collect(repo, live, freed, packs);
        } catch (IOException e) {
            throw new BackupException("prune " + repo.directory() + ": " + e.getMessage(), e);
        }
        return new Result(all.stream().map(Manifest::id).filter(keep::contains).toList(), removed, packs[0], packs[1], freed[0]);
    }

    /** The ids to keep, newest first within each vdisk. */
    static Set<String> keep(List<Manifest> all, Policy policy, ZoneId zone) {
        Set<String> keep = new LinkedHashSet<>();
        for (String vdisk : all.stream().map(Manifest::vdisk).distinct().toList()) {
            List<Manifest> newestFirst = new ArrayList<>(all.stream().filter(m -> m.vdisk().equals(vdisk)).toList()).reversed();
            newestFirst.stream().limit(policy.keepLast()).forEach(m -> keep.add(m.id()));
            keepNewestPer(newestFirst, policy.keepDaily(), m -> LocalDate.ofInstant(m.created(), zone), keep);
            keepNewestPer(newestFirst, policy.keepWeekly(), m -> {
                LocalDate d = LocalDate.ofInstant(m.created(), zone);
                return d.get(IsoFields.WEEK_BASED_YEAR) * 100 + d.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
            }, keep);
        }
        return keep;
    }

    private static void keepNewestPer(List<Manifest> newestFirst, int periods, Function<Manifest, Object> period, Set<String> keep) {
        Set<Object> seen = new HashSet<>();
        for (Manifest m : newestFirst) {
            if (seen.size() >= periods) {
                return;
            }
            if (seen.add(period.apply(m))) {
                keep.add(m.id());
            }
        }
    }

    /** Removes packs with no live chunk; rewrites packs with some dead ones (live chunks first, durable, then the old pack goes). */
    private static void collect(Repository repo, Set<String> live, long[] freed, int[] packs) throws IOException {
        List<Path> rewrite = new ArrayList<>();
        for (Path pack : repo.packs()) {
            List<Packs.Entry> entries = Packs.readIndex(pack);
            long liveCount = entries.stream().filter(e -> live.contains(e.hash())).count();
            if (liveCount == 0) {
                freed[0] += Files.size(pack);
                repo.deletePack(pack);
                packs[0]++;
            } else if (liveCount < entries.size()) {
                rewrite.add(pack);
            }
        }
        if (rewrite.isEmpty()) {
            return;
        }
        long before = 0;
        long written;
        try (PackWriter writer = repo.packWriter()) {
            for (Path pack : rewrite) {
                before += Files.size(pack);
                for (Packs.Entry e : Packs.readIndex(pack)) {
                    if (live.contains(e.hash()) && !writer.pendingOrPlacedElsewhere(e.hash(), rewrite)) {
                        byte[] data = repo.readChunk(e.hash());
                        writer.addCopy(e.hash(), data);
                    }
                }
            }
            writer.finish();
            written = writer.storedBytes();
        }
        for (Path pack : rewrite) {
            repo.deletePack(pack);
            packs[1]++;
        }
        freed[0] += Math.max(0, before - written);
    }
}
