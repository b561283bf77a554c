package io.basalt.node.datastore;

import java.util.function.LongConsumer;

import io.basalt.interop.ImageImport;
import io.basalt.interop.ImageSource;
import io.basalt.vdisk.BlockDevice;
import io.basalt.vdisk.store.VdiskStore;

/** An image file made into a new vdisk, as {@code basalt vdisk import} and {@code POST /api/imports} do it. */
public final class ImageImports {
    private ImageImports() {}

    /** Refuses an image whose size is not whole blocks, naming it; before any vdisk is made. */
    public static void checkSize(ImageSource image, int blockSize, String file) {
        if (image.sizeBytes() % blockSize != 0) {
            throw new IllegalArgumentException("image size: " + image.sizeBytes() + " bytes (expected: a multiple of the block size "
                    + blockSize + ") file=" + file);
        }
    }

    /**
     * Creates vdisk {@code name} of the image's size and copies the image's data into it. A failed
     * copy removes the vdisk, so no half-imported disk is left to boot.
     */
    public static ImageImport.Result create(Datastore store, ImageSource image, String file, String name, int blockSize, LongConsumer progress) {
        checkSize(image, blockSize, file);
        store.create(name, image.sizeBytes(), blockSize, VdiskStore.GRAIN_SIZE_DEFAULT_BYTES);
        boolean done = false;
        try (BlockDevice disk = store.open(name)) {
            ImageImport.Result r = ImageImport.copy(image, disk, progress);
            done = true;
            return r;
        } finally {
            if (!done) {
                store.remove(name);
            }
        }
    }
}
