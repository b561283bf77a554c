package io.basalt.replication;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;
import org.junit.jupiter.api.Test;

/** Keeps this module's packages layered: no two packages may depend on each other, directly or around a loop. */
class PackageCyclesTest {
    @Test
    void noPackageCycleInsideTheModule() {
        JavaClasses classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.basalt.replication");
        // Each package (the module's root package included) is its own slice.
        SlicesRuleDefinition.slices().matching("io.basalt.(**)").should().beFreeOfCycles().check(classes);
    }
}
