package io.basalt.node.cluster;

import java.util.Arrays;
import java.util.Optional;

/**
 * One line a {@link ZombieWriter} prints on stdout, and its parser: what the test knows of a
 * writer. Times are wall-clock milliseconds ({@link System#currentTimeMillis}), comparable
 * between the processes of one machine.
 *
 * <pre>
 * locked W TOKEN FENCE AT_MS                      the lock is held and its fence raised on every PG
 * ok W SEQ SLOT TOKEN ISSUED_MS DONE_MS           the write was acknowledged
 * unconfirmed W SEQ SLOT TOKEN ISSUED_MS DONE_MS  not sent by the client: its lease ran out unconfirmed (a passing condition)
 * fenced-self W SEQ SLOT TOKEN ISSUED_MS DONE_MS  refused by the client itself (lock lost): nothing sent
 * fenced-pg W SEQ SLOT TOKEN ISSUED_MS DONE_MS fence F   refused by a placement group: F was its fence
 * error W SEQ SLOT TOKEN ISSUED_MS DONE_MS MESSAGE...    failed otherwise (e.g. no answer in the I/O timeout)
 * done W unresolved N                             stopped; N writes never completed
 * </pre>
 */
sealed interface ZombieEvent {
    String writer();

    String format();

    record Locked(String writer, long token, long fence, long atMs) implements ZombieEvent {
        @Override
        public String format() {
            return "locked " + writer + " " + token + " " + fence + " " + atMs;
        }
    }

    /** How a write ended, as the writer's client saw it. */
    enum Kind {
        OK("ok"), UNCONFIRMED("unconfirmed"), FENCED_SELF("fenced-self"), FENCED_PG("fenced-pg"), ERROR("error");

        final String word;

        Kind(String word) {
            this.word = word;
        }

        static Optional<Kind> of(String word) {
            return Arrays.stream(values()).filter(k -> k.word.equals(word)).findFirst();
        }
    }

    /** {@code fence}: the PG's fence for {@link Kind#FENCED_PG}, else 0; {@code detail}: the error's message for {@link Kind#ERROR}, else empty. */
    record Outcome(Kind kind, String writer, long seq, int slot, long token, long issuedMs, long doneMs, long fence, String detail)
            implements ZombieEvent {
        @Override
        public String format() {
            String head = kind.word + " " + writer + " " + seq + " " + slot + " " + token + " " + issuedMs + " " + doneMs;
            return switch (kind) {
                case FENCED_PG -> head + " fence " + fence;
                case ERROR -> head + " " + detail.replace('\n', ' ');
                case OK, UNCONFIRMED, FENCED_SELF -> head;
            };
        }
    }

    record Done(String writer, int unresolvedCount) implements ZombieEvent {
        @Override
        public String format() {
            return "done " + writer + " unresolved " + unresolvedCount;
        }
    }

    /** The event {@code line} states; empty for any other line (a library's log line, say). */
    static Optional<ZombieEvent> parse(String line) {
        // Seven fields, then the rest: "fence F" or an error's message.
        String[] w = line.strip().split(" ", 8);
        try {
            if (w[0].equals("locked") && w.length == 5) {
                return Optional.of(new Locked(w[1], Long.parseLong(w[2]), Long.parseLong(w[3]), Long.parseLong(w[4])));
            }
            if (w[0].equals("done") && w.length == 4 && w[2].equals("unresolved")) {
                return Optional.of(new Done(w[1], Integer.parseInt(w[3])));
            }
            Optional<Kind> kind = Kind.of(w[0]);
            if (kind.isEmpty() || w.length < 7) {
                return Optional.empty();
            }
            String rest = w.length == 8 ? w[7] : "";
            long fence = 0;
            if (kind.get() == Kind.FENCED_PG) {
                if (!rest.startsWith("fence ")) {
                    return Optional.empty();
                }
                fence = Long.parseLong(rest.substring("fence ".length()));
            }
            return Optional.of(new Outcome(kind.get(), w[1], Long.parseLong(w[2]), Integer.parseInt(w[3]), Long.parseLong(w[4]),
                    Long.parseLong(w[5]), Long.parseLong(w[6]), fence, kind.get() == Kind.ERROR ? rest : ""));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
