package io.basalt.node.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;

import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;

import io.basalt.interop.ImageExport;
import io.basalt.interop.ImageFormat;
import io.basalt.interop.ImageImport;
import io.basalt.interop.ImageSource;
import io.basalt.interop.InteropException;
import io.basalt.node.datastore.ImageImports;
import io.basalt.node.api.ApiViews.SnapshotJson;
import io.basalt.node.api.ApiViews.VdiskJson;
import io.basalt.node.datastore.Datastore;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.SnapshotInfo;
import io.basalt.vdisk.store.VdiskStore;
import io.javalin.http.Context;

/**
 * {@code /api/vdisks/...}: vdisks, their snapshots and clones, and the long operations on them
 * (flatten, export, and import into a new vdisk at {@code /api/imports}) as jobs. The same operations as {@code basalt vdisk} and {@code basalt snap},
 * through the same {@link Datastore}; path names are checked first so an unknown one is a 404.
 */
final class VdiskResource {
    private final Datastore store;
    private final Jobs jobs;

    VdiskResource(Datastore store, Jobs jobs) {
        this.store = store;
        this.jobs = jobs;
    }

    List<Route> routes() {
        return List.of(
                Route.of(GET, "/api/vdisks", this::list),
                Route.of(POST, "/api/vdisks", this::create),
                Route.of(GET, "/api/vdisks/{name}", ctx -> Json.write(ctx, 200, view(vdisk(ctx)))),
                Route.of(PATCH, "/api/vdisks/{name}", this::resize),
                Route.of(DELETE, "/api/vdisks/{name}", this::remove),
                Route.of(GET, "/api/vdisks/{name}/snapshots", ctx -> Json.write(ctx, 200, snapshots(vdisk(ctx)))),
                Route.of(POST, "/api/vdisks/{name}/snapshots", this::snapshot),
                Route.of(DELETE, "/api/vdisks/{name}/snapshots/{snap}", this::removeSnapshot),
                Route.of(POST, "/api/vdisks/{name}/snapshots/{snap}/rollback", this::rollback),
                Route.of(POST, "/api/vdisks/{name}/snapshots/{snap}/clones", this::cloneSnapshot),
                Route.of(POST, "/api/vdisks/{name}/flatten", this::flatten),
                Route.of(POST, "/api/vdisks/{name}/export", this::export),
                Route.of(POST, "/api/imports", this::importImage));
    }

    private void list(Context ctx) {
        Json.write(ctx, 200, store.list().stream().map(v -> view(v.name())).toList());
    }

    private void create(Context ctx) {
        ObjectNode body = Json.body(ctx);
        String name = Json.string(body, "name");
        long size = Json.positiveLong(body, "sizeBytes");
        int blockSize = Math.toIntExact(Json.positiveLong(body, "blockSizeBytes", 512));
        int grainSize = Math.toIntExact(Json.positiveLong(body, "grainSizeBytes", VdiskStore.GRAIN_SIZE_DEFAULT_BYTES));
        if (exists(name)) {
            throw new ApiException(409, "name: " + name + " (expected: a new vdisk name; that vdisk exists)");
        }
        store.create(name, size, blockSize, grainSize);
        ctx.header("Location", "/api/vdisks/" + name);
        Json.write(ctx, 201, view(name));
    }

    private void resize(Context ctx) {
        String name = vdisk(ctx);
        store.resize(name, Json.positiveLong(Json.body(ctx), "sizeBytes"));
        Json.write(ctx, 200, view(name));
    }

    private void remove(Context ctx) {
        store.remove(vdisk(ctx));
        ctx.status(204);
    }

    private void snapshot(Context ctx) {
        String name = vdisk(ctx);
        String snap = Json.string(Json.body(ctx), "name");
        SnapshotInfo s = store.createSnapshot(name, snap);
        ctx.header("Location", "/api/vdisks/" + name + "/snapshots/" + snap);
        Json.write(ctx, 201, new SnapshotJson(name, s.name(), s.sizeBytes(), s.createdEpochMs()));
    }

    private void removeSnapshot(Context ctx) {
        String name = vdisk(ctx);
        store.removeSnapshot(name, snapshot(ctx, name));
        ctx.status(204);
    }

    private void rollback(Context ctx) {
        String name = vdisk(ctx);
        store.rollback(name, snapshot(ctx, name));
        Json.write(ctx, 200, view(name));
    }

    private void cloneSnapshot(Context ctx) {
        String name = vdisk(ctx);
        String snap = snapshot(ctx, name);
        String child = Json.string(Json.body(ctx), "name");
        if (exists(child)) {
            throw new ApiException(409, "name: " + child + " (expected: a new vdisk name; that vdisk exists)");
        }
        store.clone(name, snap, child);
        ctx.header("Location", "/api/vdisks/" + child);
        Json.write(ctx, 201, view(child));
    }

    /** Copies a clone's inherited grains in (a job; progress in grains). */
    private void flatten(Context ctx) {
        String name = vdisk(ctx);
        Datastore.VdiskView v = store.info(name);
        if (v.parent().isEmpty()) {
            throw new ApiException(409, "vdisk: " + name + " has no parent (expected: a clone)");
        }
        long grains = (v.sizeBytes() + v.grainSizeBytes() - 1) / v.grainSizeBytes();
        Jobs.accepted(ctx, jobs.start("flatten", name, grains, "grains", progress -> {
            store.flatten(name, progress);
            return view(name);
        }));
    }

    /** Writes a vdisk or one of its snapshots to an image file on the server (a job; progress in bytes). */
    private void export(Context ctx) {
        String name = vdisk(ctx);
        ObjectNode body = Json.body(ctx);
        String snap = Json.string(body, "snapshot", null);
        String spec = snap == null ? name : name + "@" + snap;
        // A snapshot keeps the size the vdisk had when it was taken: that is what the image gets.
        long size = snap == null ? store.info(name).sizeBytes() : store.snapshots(name).stream().filter(s -> s.name().equals(snap))
                .findFirst().orElseThrow(() -> ApiException.badRequest("snapshot: " + snap + " (expected: a snapshot of " + name + ")")).sizeBytes();
        Path file = Path.of(Json.string(body, "file"));
        if (!file.isAbsolute()) {
            throw ApiException.badRequest("file: " + file + " (expected: an absolute path on the server)");
        }
        ImageFormat format = parse(Json.string(body, "format", "raw"));
        boolean compress = Json.bool(body, "compress", false);
        Jobs.accepted(ctx, jobs.start("export", spec, size, "bytes", progress -> {
            try (BlockDevice disk = store.open(spec)) {
                ImageExport.Result r = ImageExport.export(disk, file, format, compress, progress);
                return new ExportResult(file.toString(), format.cliName(), r.sizeBytes(), r.fileBytes());
            }
        }));
    }

    record ExportResult(String file, String format, long sizeBytes, long fileBytes) {}

    record ImportResult(String file, String image, String vdisk, long sizeBytes, long writtenBytes) {}

    /**
     * Makes a new vdisk from an image file on the server (a job; progress in bytes of the image).
     * The file is opened and its header read before the job starts, so a missing file, a bad header
     * or a size that is not whole blocks is refused at once; a copy that fails removes the vdisk.
     */
    private void importImage(Context ctx) {
        ObjectNode body = Json.body(ctx);
        Path file = Path.of(Json.string(body, "file"));
        String name = Json.string(body, "name");
        String format = Json.string(body, "format", "auto");
        int blockSize = Math.toIntExact(Json.positiveLong(body, "blockSizeBytes", 512));
        if (!file.isAbsolute() || !java.nio.file.Files.isRegularFile(file)) {
            throw ApiException.badRequest("file: " + file + " (expected: the absolute path of an image file on the server)");
        }
        if (exists(name)) {
            throw new ApiException(409, "name: " + name + " (expected: a new vdisk name; that vdisk exists)");
        }
        ImageFormat f = format.equals("auto") ? null : parse(format);
        ImageSource image;
        try {
            image = ImageSource.open(file, f);
        } catch (InteropException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        try {
            ImageImports.checkSize(image, blockSize, file.toString());
            Jobs.accepted(ctx, jobs.start("import", name, image.sizeBytes(), "bytes", progress -> {
                try (image) {
                    ImageImport.Result r = ImageImports.create(store, image, file.toString(), name, blockSize, progress);
                    return new ImportResult(file.toString(), image.description(), name, r.sizeBytes(), r.writtenBytes());
                }
            }));
        } catch (RuntimeException e) {
            image.close();
            throw e;
        }
    }

    private static ImageFormat parse(String format) {
        try {
            return ImageFormat.parse(format);
        } catch (RuntimeException e) {
            throw ApiException.badRequest("format: " + format + " (expected: raw, qcow2 or vmdk)");
        }
    }


    private VdiskJson view(String name) {
        return VdiskJson.of(store, name);
    }

    private List<SnapshotJson> snapshots(String name) {
        return SnapshotJson.of(store, name);
    }

    private boolean exists(String name) {
        return store.list().stream().anyMatch(v -> v.name().equals(name));
    }

    /** The {name} of the path, checked to be a vdisk (404 naming it if not). */
    private String vdisk(Context ctx) {
        String name = ctx.pathParam("name");
        if (!exists(name)) {
            throw ApiException.notFound("vdisk: " + name + " (expected: an existing vdisk; see GET /api/vdisks)");
        }
        return name;
    }

    /** The {snap} of the path, checked to be a snapshot of {@code vdisk}. */
    private String snapshot(Context ctx, String vdisk) {
        String snap = ctx.pathParam("snap");
        if (store.snapshots(vdisk).stream().noneMatch(s -> s.name().equals(snap))) {
            throw ApiException.notFound("snapshot: " + vdisk + "@" + snap + " (expected: an existing snapshot; see GET /api/vdisks/"
                    + vdisk + "/snapshots)");
        }
        return snap;
    }
}
