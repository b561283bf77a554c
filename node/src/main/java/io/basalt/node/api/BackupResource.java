package io.basalt.node.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.basalt.backup.BackupCreate;
import io.basalt.backup.BackupException;
import io.basalt.backup.BackupRestore;
import io.basalt.backup.Manifest;
import io.basalt.backup.Repository;
import io.basalt.interop.ImageExport;
import io.basalt.node.backup.Backups;
import io.basalt.node.backup.LiveBackup;
import io.basalt.node.datastore.Datastore;
import io.javalin.http.Context;

/**
 * {@code /api/backups}: {@code basalt backup create}, {@code ls} and {@code restore} through the
 * API, on a repository directory on the server. A backup and a restore are jobs (progress in
 * bytes). What can be refused before the work starts is refused at once, naming the bad value:
 * the request's vdisk, snapshot or VM, the repository (not one, or in use by another backup), the
 * shared-read lock of a disk, the restore's destination. A backup holds its disks shared-read
 * under a lock session of its own from the request until the job ends, as the CLI does.
 */
final class BackupResource {
    /** What a finished backup job shows: the snapshot it read, each disk's backup (as {@code GET /api/backups} lists them), its lines. */
    record BackupResult(String snapshot, List<Backups.Row> backups, List<String> lines) {}

    /** A finished restore to a vdisk: bytes compared, written, zeroed. */
    record RestoreResult(String backup, String vdisk, long sizeBytes, long comparedBytes, long writtenBytes, long zeroedBytes) {}

    /** A finished restore to a qcow2 image. */
    record QcowResult(String backup, String file, long sizeBytes, long dataBytes, long fileBytes) {}

    private final Datastore store;
    private final Jobs jobs;

    BackupResource(Datastore store, Jobs jobs) {
        this.store = store;
        this.jobs = jobs;
    }

    List<Route> routes() {
        return List.of(
                Route.of(GET, "/api/backups", this::list, "repo"),
                Route.of(POST, "/api/backups", this::create),
                Route.of(POST, "/api/backups/{id}/restore", this::restore));
    }

    private void list(Context ctx) {
        String repo = ctx.queryParam("repo");
        if (repo == null || repo.isEmpty()) {
            throw ApiException.badRequest("repo: missing (expected: ?repo=PATH, the absolute path of a backup repository on the server)");
        }
        try (Repository r = open(absolute("repo", repo), 0)) {
            Json.write(ctx, 200, r.manifests().stream().map(Backups.Row::of).toList());
        }
    }

    /** Backs up {@code vdisk} (a vdisk, or {@code VDISK@SNAP}) or every disk of {@code vm} into {@code repo}: a job. */
    private void create(Context ctx) {
        ObjectNode body = Json.body(ctx);
        Path repoDir = absolute("repo", Json.string(body, "repo"));
        String vdisk = Json.string(body, "vdisk", null);
        String vm = Json.string(body, "vm", null);
        if ((vdisk == null) == (vm == null)) {
            throw ApiException.badRequest("vdisk, vm: " + (vdisk == null ? "neither" : "both " + vdisk + " and " + vm)
                    + " (expected: one of them: a vdisk, VDISK@SNAP, or a VM whose disks are backed up at one instant)");
        }
        long chunkBytes = Json.positiveLong(body, "chunkSizeBytes", Repository.CHUNK_BYTES_DEFAULT);
        if (chunkBytes > Repository.CHUNK_BYTES_MAX) {
            throw ApiException.badRequest("chunkSizeBytes: " + chunkBytes + " (expected: a power of two from " + Repository.CHUNK_BYTES_MIN
                    + " to " + Repository.CHUNK_BYTES_MAX + ")");
        }
        Instant now = Instant.now();
        Backups.Target target = Backups.target(store, vdisk, vm, now);
        Repository repo = open(repoDir, (int) chunkBytes);
        LiveBackup live = null;
        Jobs.View job;
        try {
            live = LiveBackup.open(store);
            try {
                live.lockSharedRead(target.disks());
            } catch (BackupException e) {
                throw new ApiException(409, e.getMessage());
            }
            LiveBackup session = live;
            Map<String, Long> sizes = new HashMap<>();
            target.disks().forEach(d -> sizes.put(d, store.info(d).sizeBytes()));
            long total = sizes.values().stream().mapToLong(Long::longValue).sum();
            job = jobs.start("backup", target.spec(), total, "bytes", progress -> {
                try (repo; session) {
                    JobListener listener = new JobListener(progress, sizes, total);
                    listener.line("holding " + String.join(", ", target.disks()) + " shared-read (lock session " + session.sessionId() + ") for the backup");
                    List<BackupCreate.Result> results = Backups.run(repo, store, session, target, now, listener);
                    return new BackupResult(target.snapshot(), results.stream().map(r -> Backups.Row.of(r.manifest())).toList(), listener.lines);
                }
            });
        } catch (RuntimeException e) {
            if (live != null) {
                live.close();
            }
            repo.close();
            throw e;
        }
        Jobs.accepted(ctx, job);
    }

    /** A backup job's progress over all its disks: a disk's planned bytes replace its size in the total once it starts. */
    private static final class JobListener implements Backups.Listener {
        final List<String> lines = new ArrayList<>();
        private final Jobs.Progress progress;
        private final Map<String, Long> sizes;
        private long notStartedBytes;
        private long finishedBytes;
        private long currentBytes;

        JobListener(Jobs.Progress progress, Map<String, Long> sizes, long total) {
            this.progress = progress;
            this.sizes = sizes;
            this.notStartedBytes = total;
        }

        @Override
        public void line(String line) {
            lines.add(line);
        }

        @Override
        public void planned(String disk, long bytes) {
            notStartedBytes -= sizes.get(disk);
            currentBytes = bytes;
            progress.total(finishedBytes + currentBytes + notStartedBytes);
        }

        @Override
        public void progress(String disk, long bytes) {
            progress.accept(finishedBytes + bytes);
        }

        @Override
        public void backedUp(String disk, BackupCreate.Result r) {
            finishedBytes += currentBytes;
            currentBytes = 0;
            Manifest m = r.manifest();
            lines.add("backup " + m.id() + " of " + disk + "@" + m.snapshot() + ": " + m.parent().map(p -> "incremental from " + p).orElse("full")
                    + ", read " + r.readBytes() + " bytes, stored " + r.newStoredBytes() + " bytes in " + r.newChunkCount() + " new chunks");
        }
    }

    /** Restores backup {id} of {@code repo} to one of: a new vdisk, an existing vdisk of its size, a qcow2 file on the server. A job. */
    private void restore(Context ctx) {
        String id = ctx.pathParam("id");
        ObjectNode body = Json.body(ctx);
        Path repoDir = absolute("repo", Json.string(body, "repo"));
        String toVdisk = Json.string(body, "toVdisk", null);
        String into = Json.string(body, "into", null);
        String qcow2 = Json.string(body, "toQcow2", null);
        if (Stream.of(toVdisk, into, qcow2).filter(v -> v != null).count() != 1) {
            throw ApiException.badRequest("toVdisk, into, toQcow2: " + Stream.of(toVdisk, into, qcow2).filter(v -> v != null).toList()
                    + " (expected: exactly one destination)");
        }
        Path file = qcow2 == null ? null : absolute("toQcow2", qcow2);
        Repository repo = open(repoDir, 0);
        Jobs.View job;
        try {
            Manifest m = manifest(repo, id, repoDir);
            checkDestination(m, toVdisk, into);
            String to = toVdisk != null ? toVdisk : into != null ? into : file.toString();
            job = jobs.start("restore", id + " to " + to, m.sizeBytes(), "bytes", progress -> {
                try (repo) {
                    if (file != null) {
                        ImageExport.Result r = Backups.restoreToQcow2(repo, m, file, progress);
                        return new QcowResult(m.id(), file.toString(), r.sizeBytes(), r.dataBytes(), r.fileBytes());
                    }
                    BackupRestore.Result r = into != null ? Backups.restoreInto(repo, m, store, into, progress)
                            : Backups.restoreToNew(repo, m, store, toVdisk, progress);
                    return new RestoreResult(m.id(), to, r.sizeBytes(), r.comparedBytes(), r.writtenBytes(), r.zeroedBytes());
                }
            });
        } catch (RuntimeException e) {
            repo.close();
            throw e;
        }
        Jobs.accepted(ctx, job);
    }

    private static Manifest manifest(Repository repo, String id, Path repoDir) {
        if (repo.manifests().stream().noneMatch(m -> m.id().equals(id))) {
            throw ApiException.notFound("backup: " + id + " (expected: a backup of " + repoDir + "; see GET /api/backups?repo=" + repoDir + ")");
        }
        return repo.manifest(id);
    }

    private void checkDestination(Manifest m, String toVdisk, String into) {
        if (toVdisk != null && exists(toVdisk)) {
            throw new ApiException(409, "toVdisk: " + toVdisk + " (expected: a new vdisk name; that vdisk exists; into restores into it)");
        }
        if (into != null) {
            if (!exists(into)) {
                throw ApiException.badRequest("into: " + into + " (expected: an existing vdisk; toVdisk makes a new one)");
            }
            Datastore.VdiskView v = store.info(into);
            if (v.sizeBytes() != m.sizeBytes() || v.blockSizeBytes() != m.blockSizeBytes()) {
                throw new ApiException(409, "into: " + into + " is " + v.sizeBytes() + " bytes in " + v.blockSizeBytes() + "-byte blocks (expected: "
                        + m.sizeBytes() + " bytes in " + m.blockSizeBytes() + "-byte blocks, as backup " + m.id() + ")");
            }
        }
    }

    private boolean exists(String name) {
        return store.list().stream().anyMatch(v -> v.name().equals(name));
    }

    private static Path absolute(String field, String text) {
        Path p = Path.of(text);
        if (!p.isAbsolute()) {
            throw ApiException.badRequest(field + ": " + text + " (expected: an absolute path on the server)");
        }
        return p;
    }

    /**
     * Opens the repository at {@code dir} ({@code createChunkBytes > 0}: made there when missing or
     * empty). Not a repository: 400; one another backup or restore holds (a job here or another
     * process): 409.
     */
    private static Repository open(Path dir, int createChunkBytes) {
        boolean isRepo = Files.isRegularFile(dir.resolve(Repository.VERSION_FILE));
        if (!isRepo && (createChunkBytes == 0 || !canCreate(dir))) {
            throw ApiException.badRequest("repo: " + dir + " (expected: a backup repository" + (createChunkBytes > 0 ? ", or a missing or empty directory" : "")
                    + "; it has no " + Repository.VERSION_FILE + " file)");
        }
        try {
            return Repository.open(dir, createChunkBytes);
        } catch (BackupException e) {
            throw new ApiException(409, e.getMessage());
        }
    }

    private static boolean canCreate(Path dir) {
        if (!Files.exists(dir)) {
            return true;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
