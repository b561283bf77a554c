package io.basalt.host.qmp;

import java.io.IOException;
import java.time.Duration;

/**
 * Why a QMP call did not return: QEMU answered with an error, did not answer in time, the
 * connection ended, or QEMU said something that is not QMP. Every message names the command.
 */
public abstract sealed class QmpException extends IOException {
    private final String command;

    private QmpException(String command, String message) {
        super("QMP " + command + ": " + message);
        this.command = command;
    }

    /** The command that failed ({@code "greeting"} for the connection's start). */
    public String command() {
        return command;
    }

    /** QEMU's error reply: its class (e.g. {@code GenericError}, {@code CommandNotFound}) and desc. */
    public static final class CommandFailed extends QmpException {
        private final String errorClass;
        private final String desc;

        public CommandFailed(String command, String errorClass, String desc) {
            super(command, errorClass + ": " + desc);
            this.errorClass = errorClass;
            this.desc = desc;
        }

        public String errorClass() {
            return errorClass;
        }

        public String desc() {
            return desc;
        }
    }

    /** No reply within the call's timeout: QEMU is frozen, or busier than the timeout allows. */
    public static final class TimedOut extends QmpException {
        private final Duration timeout;

        public TimedOut(String command, Duration timeout) {
            super(command, "no reply within " + timeout.toMillis() + " ms (QEMU frozen or overloaded)");
            this.timeout = timeout;
        }

        public Duration timeout() {
            return timeout;
        }
    }

    /** The connection ended (QEMU exited, the socket was closed) before the reply came. */
    public static final class Closed extends QmpException {
        public Closed(String command, String reason) {
            super(command, reason);
        }
    }

    /** QEMU sent something QMP does not allow (not JSON, a reply without an id, an unknown enum value). */
    public static final class Protocol extends QmpException {
        public Protocol(String command, String problem) {
            super(command, problem);
        }
    }
}
