package io.basalt.host;

/** How QEMU runs guest code: KVM (hardware virtualization) or TCG (emulation, slower, always there). */
public enum Accelerator {
    KVM("kvm"),
    TCG("tcg");

    private final String qemuName;

    Accelerator(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The name QEMU's {@code -accel} takes. */
    public String qemuName() {
        return qemuName;
    }
}
