package io.basalt.node.cli;

import io.basalt.node.datastore.Datastore;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;

import io.basalt.iscsi.IscsiTarget;
import io.basalt.iscsi.session.ChapCredentials;
import io.basalt.node.serve.TargetsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code basalt target ...}: the iSCSI exports of the embedded store or of a cluster (saved in
 * targets.json in the store directory, or beside the cluster file: the configuration of the
 * gateway on this host), served by {@code basalt serve}. Modelled on targetcli: targets, LUNs,
 * ACLs, CHAP.
 */
@Command(name = "target", description = "Configure iSCSI targets: LUNs, initiator ACLs, CHAP (served by 'basalt serve').",
        mixinStandardHelpOptions = true,
        subcommands = {TargetCommand.Ls.class, TargetCommand.Create.class, TargetCommand.Rm.class, TargetCommand.Lun.class,
                TargetCommand.Acl.class, TargetCommand.Chap.class})
public final class TargetCommand {

    /** Loads, changes and saves targets.json; prints what it did. */
    abstract static class Edit implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;

        abstract String apply(TargetsFile.Config config) throws IOException;

        @Override
        public Integer call() throws IOException {
            TargetsFile.Config config = TargetsFile.load(store.configDir());
            String done = apply(config);
            TargetsFile.save(store.configDir(), config);
            spec.commandLine().getOut().println(done);
            return 0;
        }
    }

    @Command(name = "ls", description = "List targets, their LUNs, ACLs and whether CHAP is on.")
    static final class Ls implements Callable<Integer> {
        @Mixin DatastoreOptions store;
        @Spec CommandSpec spec;
        @Mixin OutputFormat format;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            if (format.json()) {
                out.println(OutputFormat.toJson(TargetsFile.load(store.configDir()).targets().stream().map(io.basalt.node.api.ApiViews.TargetJson::of).toList()));
                return 0;
            }
            for (TargetsFile.Target t : TargetsFile.load(store.configDir()).targets()) {
                out.println(t.iqn());
                t.luns().forEach((lun, vdisk) -> out.printf("  lun %d: %s%n", lun, vdisk));
                out.printf("  acl: %s%n", t.initiators().isEmpty() ? "(any initiator)" : String.join(", ", t.initiators()));
                out.printf("  chap: %s%n", t.chap() == null ? "off" : (t.chap().mutualSecret() == null ? "one-way" : "mutual")
                        + " (user " + t.chap().user() + ")");
            }
            return 0;
        }
    }

    @Command(name = "create", description = "Add a target: IQN such as iqn.2026-11.io.basalt:web1.")
    static final class Create extends Edit {
        @Parameters(paramLabel = "IQN") String iqn;

        @Override
        String apply(TargetsFile.Config config) {
            IscsiTarget.builder().addTarget(iqn, Map.of()); // validates the name
            if (config.find(iqn).isPresent()) {
                throw new IllegalArgumentException("target: " + iqn + " (expected: a name not already configured)");
            }
            config.targets().add(new TargetsFile.Target(iqn, null, null, null));
            return "created target " + iqn;
        }
    }

    @Command(name = "rm", description = "Remove a target (its vdisks are kept).")
    static final class Rm extends Edit {
        @Parameters(paramLabel = "IQN") String iqn;

        @Override
        String apply(TargetsFile.Config config) {
            config.targets().remove(config.get(iqn));
            return "removed target " + iqn;
        }
    }

    @Command(name = "lun", description = "Add or remove LUNs.", subcommands = {LunAdd.class, LunRm.class}, mixinStandardHelpOptions = true)
    static final class Lun {}

    @Command(name = "add", description = "Export VDISK (or VDISK@SNAP, read-only) as a LUN of IQN.")
    static final class LunAdd extends Edit {
        @Parameters(index = "0", paramLabel = "IQN") String iqn;
        @Parameters(index = "1", paramLabel = "VDISK[@SNAP]") String vdisk;
        @Option(names = "--lun", description = "LUN number (default: the lowest free one).") Integer lun;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            try (Datastore s = store.open()) {
                s.open(vdisk).close(); // the vdisk (and snapshot) must exist
            }
            int number = lun != null ? lun : 0;
            while (lun == null && t.luns().containsKey(number)) {
                number++;
            }
            if (number < 0 || number > 255 || t.luns().containsKey(number)) {
                throw new IllegalArgumentException("lun: " + number + " (expected: 0..255 and not in use by " + iqn + ")");
            }
            t.luns().put(number, vdisk);
            return "exported " + vdisk + " as " + iqn + " lun " + number;
        }
    }

    @Command(name = "rm", description = "Stop exporting a LUN.")
    static final class LunRm extends Edit {
        @Parameters(index = "0", paramLabel = "IQN") String iqn;
        @Parameters(index = "1", paramLabel = "LUN") int lun;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            if (t.luns().remove(lun) == null) {
                throw new IllegalArgumentException("lun: " + lun + " (expected: one of " + t.luns().keySet() + ")");
            }
            return "removed lun " + lun + " from " + iqn;
        }
    }

    @Command(name = "acl", description = "Allow initiators (by IQN); with none allowed, any may log in.",
            subcommands = {AclAdd.class, AclRm.class}, mixinStandardHelpOptions = true)
    static final class Acl {}

    @Command(name = "add")
    static final class AclAdd extends Edit {
        @Parameters(index = "0", paramLabel = "IQN") String iqn;
        @Parameters(index = "1", paramLabel = "INITIATOR") String initiator;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            if (!t.initiators().contains(initiator)) {
                t.initiators().add(initiator);
            }
            return "allowed " + initiator + " on " + iqn;
        }
    }

    @Command(name = "rm")
    static final class AclRm extends Edit {
        @Parameters(index = "0", paramLabel = "IQN") String iqn;
        @Parameters(index = "1", paramLabel = "INITIATOR") String initiator;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            if (!t.initiators().remove(initiator)) {
                throw new IllegalArgumentException("initiator: " + initiator + " (expected: one of " + t.initiators() + ")");
            }
            return "removed " + initiator + " from the ACL of " + iqn;
        }
    }

    @Command(name = "chap", description = "Set or clear CHAP for a target (secrets 12..255 bytes).",
            subcommands = {ChapSet.class, ChapClear.class}, mixinStandardHelpOptions = true)
    static final class Chap {}

    @Command(name = "set")
    static final class ChapSet extends Edit {
        @Parameters(paramLabel = "IQN") String iqn;
        @Option(names = "--user", required = true) String user;
        @Option(names = "--secret", required = true) String secret;
        @Option(names = "--mutual-user") String mutualUser;
        @Option(names = "--mutual-secret") String mutualSecret;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            ChapCredentials checked = new ChapCredentials(user, secret, mutualUser, mutualSecret);
            config.targets().set(config.targets().indexOf(t), new TargetsFile.Target(t.iqn(), t.luns(), t.initiators(),
                    new TargetsFile.Chap(user, secret, mutualUser, mutualSecret)));
            return "CHAP " + (checked.mutual() ? "mutual" : "one-way") + " on " + iqn;
        }
    }

    @Command(name = "clear")
    static final class ChapClear extends Edit {
        @Parameters(paramLabel = "IQN") String iqn;

        @Override
        String apply(TargetsFile.Config config) {
            TargetsFile.Target t = config.get(iqn);
            config.targets().set(config.targets().indexOf(t), new TargetsFile.Target(t.iqn(), t.luns(), t.initiators(), null));
            return "CHAP off on " + iqn;
        }
    }
}
