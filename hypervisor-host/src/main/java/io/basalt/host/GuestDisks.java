package io.basalt.host;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import io.basalt.host.qmp.Qmp;
import io.basalt.host.qmp.QmpException;

/**
 * How a guest's disks are plugged in: each disk is a block node ({@code -blockdev}, or QMP
 * {@code blockdev-add} while the guest runs) under a virtio-blk-pci device at a fixed PCI slot of
 * its own. Node, device and slot are named by the slot, which the VM's spec keeps per disk, so a
 * disk hot-plugged into a running guest sits where a migration destination started with it on its
 * command line puts it: QEMU matches device state by PCI address. One class for both ways of
 * plugging, so they cannot drift apart.
 *
 * <p>A disk is an {@code iscsi://HOST:PORT/TARGET/LUN} URL (QEMU's iSCSI initiator, the agents'
 * loopback gateways) or, in tests, a file path.
 */
public final class GuestDisks {
    /** How long a detach waits for the guest to release its device unless told. */
    public static final Duration DETACH_TIMEOUT_DEFAULT = Duration.ofSeconds(30);
    private static final String ISCSI = "iscsi://";

    private GuestDisks() {}

    /** The block node of the disk in PCI slot {@code slot}: the name {@code block_resize} and {@code blockdev-del} take. */
    public static String nodeName(int slot) {
        return "disk-s" + slot;
    }

    /** The virtio-blk-pci device of the disk in PCI slot {@code slot}: the id {@code device_del} takes. */
    public static String deviceId(int slot) {
        return "vdisk-s" + slot;
    }

    /** {@code -blockdev} and {@code -device} arguments for {@code disk} in PCI slot {@code slot}. */
    static List<String> qemuArgs(String disk, int slot) {
        String blockdev = blockdevOptions(disk, slot).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
        String device = deviceOptions(slot).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        return List.of("-blockdev", blockdev, "-device", "virtio-blk-pci," + device);
    }

    /** Plugs {@code disk} into the running guest at PCI slot {@code slot}: {@code blockdev-add}, then {@code device_add}; undone when the second fails. */
    public static void attach(Qmp qmp, String disk, int slot) throws QmpException, InterruptedException {
        qmp.blockdevAdd(blockdevOptions(disk, slot));
        Map<String, Object> device = deviceOptions(slot);
        device.remove("id");
        try {
            qmp.deviceAdd("virtio-blk-pci", deviceId(slot), device);
        } catch (QmpException e) {
            try {
                qmp.blockdevDel(nodeName(slot));
            } catch (QmpException undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
    }

    /**
     * Unplugs the disk in PCI slot {@code slot}: {@code device_del} asks the guest to let go (ACPI
     * eject); once QEMU says {@code DEVICE_DELETED}, {@code blockdev-del} closes the node (and its
     * iSCSI session). A guest that does not let go within {@code timeout} gets an
     * {@link IllegalStateException} saying so: the disk is still plugged in then (and may go later,
     * when the guest lets go).
     */
    public static void detach(Qmp qmp, int slot, Duration timeout) throws QmpException, InterruptedException {
        String id = deviceId(slot);
        CompletableFuture<Void> deleted = new CompletableFuture<>();
        AutoCloseable listening = qmp.onEvent(event -> {
            if (event.name().equals("DEVICE_DELETED") && id.equals(event.data().path("device").asText())) {
                deleted.complete(null);
            }
        });
        try {
            if (deviceDel(qmp, id)) {
                deleted.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (TimeoutException e) {
            throw new IllegalStateException("the guest did not release device " + id + " within " + timeout.toMillis()
                    + " ms (expected: DEVICE_DELETED; is the disk mounted or busy in the guest?)");
        } catch (ExecutionException e) {
            throw new AssertionError("DEVICE_DELETED of " + id + " is only ever completed normally", e);
        } finally {
            closeQuietly(listening);
        }
        qmp.blockdevDel(nodeName(slot));
    }

    /** Asks the guest to let go of {@code id}; false when it already has (an earlier detach that timed out, then went through). */
    private static boolean deviceDel(Qmp qmp, String id) throws QmpException, InterruptedException {
        try {
            qmp.deviceDel(id);
            return true;
        } catch (QmpException.CommandFailed e) {
            if (e.errorClass().equals("DeviceNotFound")) {
                return false;
            }
            if (e.desc().contains("in the process of unplug")) {
                return true;    // an earlier detach's request is still pending in the guest: wait for it
            }
            throw e;
        }
    }

    private static void closeQuietly(AutoCloseable listening) {
        try {
            listening.close();
        } catch (Exception e) {
            throw new AssertionError("removing a QMP listener does not fail", e);
        }
    }

    /** The block node's options, in order (QEMU's names: the iscsi driver's transport, portal, target, lun; or a file's name). */
    static Map<String, Object> blockdevOptions(String disk, int slot) {
        Map<String, Object> options = new LinkedHashMap<>();
        if (disk.startsWith(ISCSI)) {
            String rest = disk.substring(ISCSI.length());
            int firstSlash = rest.indexOf('/');
            int lastSlash = rest.lastIndexOf('/');
            if (firstSlash <= 0 || lastSlash <= firstSlash) {
                throw new IllegalArgumentException("disk: '" + disk + "' (expected: iscsi://HOST:PORT/TARGET/LUN)");
            }
            options.put("driver", "iscsi");
            options.put("node-name", nodeName(slot));
            options.put("transport", "tcp");
            options.put("portal", rest.substring(0, firstSlash));
            options.put("target", rest.substring(firstSlash + 1, lastSlash));
            options.put("lun", Integer.parseInt(rest.substring(lastSlash + 1)));
        } else {
            options.put("driver", "file");
            options.put("node-name", nodeName(slot));
            options.put("filename", disk);
        }
        return options;
    }

    private static Map<String, Object> deviceOptions(int slot) {
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("drive", nodeName(slot));
        options.put("id", deviceId(slot));
        options.put("bus", "pci.0");
        options.put("addr", "0x" + Integer.toHexString(slot));
        return options;
    }
}
