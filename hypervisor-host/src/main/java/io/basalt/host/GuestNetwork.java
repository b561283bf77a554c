package io.basalt.host;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A guest's network: none, QEMU's user-mode networking (NAT out, nothing in; needs no privileges),
 * or a tap device the host agent put on a Linux bridge (the guest is on that bridge's network, and
 * keeps its connections across a live migration: the destination's QEMU announces the MAC on its
 * own tap). Either NIC is a virtio-net device with the VM's MAC.
 */
public sealed interface GuestNetwork {
    /** Linux interface names: at most 15 bytes. */
    Pattern IFNAME = Pattern.compile("[A-Za-z0-9_-]{1,15}");

    /** QEMU's options for this network with a NIC of MAC {@code mac}; none for {@link None}. */
    List<String> qemuArgs(String mac);

    /** No NIC at all. */
    record None() implements GuestNetwork {
        @Override
        public List<String> qemuArgs(String mac) {
            return List.of();
        }
    }

    /** User-mode networking (slirp): the guest reaches out through NAT; nothing reaches it. */
    record User() implements GuestNetwork {
        @Override
        public List<String> qemuArgs(String mac) {
            return List.of("-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,mac=" + mac);
        }
    }

    /** The existing tap device {@code ifname} (on a bridge), opened by QEMU without scripts. */
    record Tap(String ifname) implements GuestNetwork {
        public Tap {
            Objects.requireNonNull(ifname, "ifname");
            if (!IFNAME.matcher(ifname).matches()) {
                throw new IllegalArgumentException("tap: '" + ifname + "' (expected: " + IFNAME.pattern() + ")");
            }
        }

        @Override
        public List<String> qemuArgs(String mac) {
            return List.of("-netdev", "tap,id=net0,ifname=" + ifname + ",script=no,downscript=no",
                    "-device", "virtio-net-pci,netdev=net0,mac=" + mac);
        }
    }
}
