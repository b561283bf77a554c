package io.basalt.iscsi.session;

import io.basalt.iscsi.pdu.ProtocolException;
import io.basalt.iscsi.pdu.TaskMgmtRequest;
import io.basalt.iscsi.pdu.TaskMgmtResponse;
import io.basalt.iscsi.scsi.LogicalUnit;
import io.basalt.iscsi.scsi.Sense;
import io.basalt.iscsi.scsi.TargetLuns;
import io.netty.channel.ChannelFutureListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Task Management Function Requests (RFC 7143 §11.5): aborts the tasks a function names, resets
 * logical units where it says so, and answers only once every aborted command has finished on
 * its device.
 */
final class TaskManagement {

    private final ConnectionState state;

    TaskManagement(ConnectionState state) {
        this.state = state;
    }

    void onTaskMgmt(TaskMgmtRequest r) {
        if (state.target == null) {
            throw new ProtocolException("Task Management in a discovery session");
        }
        if (!state.admit(r.immediate(), r.cmdSn())) {
            return;
        }
        int lun = TargetLuns.decodeLun(r.lun());
        LogicalUnit lu = state.target.luns().lun(lun);
        List<Task> affected = new ArrayList<>();
        int response = decide(r, lun, lu, affected);
        List<CompletableFuture<?>> running = new ArrayList<>();
        for (Task t : affected) {
            if (state.tasks.abort(t)) {
                running.add(t.execution);
            }
        }
        // The response goes out only after every aborted command has finished on the device.
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> state.ctx.executor().execute(() -> {
            if (state.phase == ConnectionState.Phase.CLOSED) {
                return;
            }
            var f = state.ctx.writeAndFlush(new TaskMgmtResponse(response, r.itt(), state.sequencer.nextStatus()));
            if (r.function() == TaskMgmtRequest.TARGET_COLD_RESET) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }));
    }

    /** Decides the response and which tasks to abort; resets LUs where the function says so. */
    private int decide(TaskMgmtRequest r, int lun, LogicalUnit lu, List<Task> affected) {
        boolean lunScoped = r.function() >= TaskMgmtRequest.ABORT_TASK && r.function() <= TaskMgmtRequest.LOGICAL_UNIT_RESET;
        if (lunScoped && lu == null) {
            return TaskMgmtResponse.LUN_DOES_NOT_EXIST;
        }
        switch (r.function()) {
            case TaskMgmtRequest.ABORT_TASK -> {
                return abortTask(r, lun, affected);
            }
            case TaskMgmtRequest.ABORT_TASK_SET, TaskMgmtRequest.CLEAR_TASK_SET -> affected.addAll(state.tasks.onLun(lun));
            case TaskMgmtRequest.LOGICAL_UNIT_RESET -> {
                affected.addAll(state.tasks.onLun(lun));
                lu.reset(state.nexus, Sense.LUN_RESET);
            }
            case TaskMgmtRequest.TARGET_WARM_RESET, TaskMgmtRequest.TARGET_COLD_RESET -> {
                affected.addAll(state.tasks.all());
                state.target.luns().logicalUnits().forEach(u -> u.reset(state.nexus, Sense.POWER_ON_RESET));
            }
            case TaskMgmtRequest.CLEAR_ACA -> {
                return TaskMgmtResponse.FUNCTION_NOT_SUPPORTED;
            }
            case TaskMgmtRequest.TASK_REASSIGN -> {
                return TaskMgmtResponse.REASSIGNMENT_NOT_SUPPORTED;
            }
            default -> {
                return TaskMgmtResponse.FUNCTION_REJECTED;
            }
        }
        return TaskMgmtResponse.FUNCTION_COMPLETE;
    }

    private int abortTask(TaskMgmtRequest r, int lun, List<Task> affected) {
        Task t = state.tasks.get(r.referencedTaskTag());
        if (t != null && t.lun == lun) {
            affected.add(t);
            return TaskMgmtResponse.FUNCTION_COMPLETE;
        }
        // Not here. RFC 7143 §11.5.1: a RefCmdSN still inside the CmdSN window names a command
        // that never arrived, which now never will: "function complete". Below the window the
        // command was received and already answered: "task does not exist".
        Sequencer sn = state.sequencer;
        int ahead = r.refCmdSn() - sn.expCmdSn();
        boolean inWindow = ahead >= 0 && ahead <= sn.maxCmdSn() - sn.expCmdSn();
        return inWindow ? TaskMgmtResponse.FUNCTION_COMPLETE : TaskMgmtResponse.TASK_DOES_NOT_EXIST;
    }
}
