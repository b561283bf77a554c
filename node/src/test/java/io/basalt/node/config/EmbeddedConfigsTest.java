package io.basalt.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.basalt.cluster.meta.ConfigRecord;
import io.basalt.vdisk.store.VdiskStore;

class EmbeddedConfigsTest {
    @TempDir
    Path dir;

    @Test
    void recordsAreComparedAndSetAndSurviveAReopen() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            assertTrue(configs.compareAndSet("vm/web", 0, value("one")));
            assertFalse(configs.compareAndSet("vm/web", 0, value("two")), "a writer that read version 0 comes second");
            assertTrue(configs.compareAndSet("vm/web", 1, value("two")));
            assertTrue(configs.compareAndSet("vmx", 0, value("x")));
            assertTrue(configs.compareAndSet("host/a", 0, value("a")));
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            ConfigRecord web = configs.read("vm/web").orElseThrow();
            assertEquals(2, web.version());
            assertEquals("two", new String(web.bytes(), java.nio.charset.StandardCharsets.UTF_8));
            assertEquals(List.of("vm/web"), configs.list("vm").stream().map(ConfigRecord::key).toList(), "'vm' lists vm/..., not vmx");
            assertEquals(3, configs.list("").size());
            assertTrue(configs.compareAndSet("vm/web", 2, Optional.empty()));
        }
        try (VdiskStore store = VdiskStore.open(dir)) {
            assertEquals(Optional.empty(), EmbeddedConfigs.open(store).read("vm/web"), "removed by an empty value");
        }
    }

    @Test
    void aValueTooLargeIsRefusedAndNothingChanges() {
        try (VdiskStore store = VdiskStore.open(dir)) {
            EmbeddedConfigs configs = EmbeddedConfigs.open(store);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> configs.compareAndSet("vm/big", 0, Optional.of(ByteBuffer.allocate(ConfigRecord.VALUE_BYTES_MAX + 1))));
            assertTrue(e.getMessage().contains("vm/big"), e.getMessage());
            assertEquals(List.of(), configs.list(""));
        }
    }

    private static Optional<ByteBuffer> value(String s) {
        return Optional.of(ByteBuffer.wrap(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
