// The embedded backend: every request carried out at once by the manager on
// this thread, so its reply is ready when perform() returns.

import type { AppBackend, BackendReply, BackendRequest } from './app-backend.js';
import { errorJson, memoryFull, notMember, queueFull, tooManyGroups, unknownGroup } from './app-reply.js';
import { MAX_GROUPS_PER_CLIENT } from './groups.js';
import { REFUSED_QUEUE_FULL, type Manager, type SendRefused } from './manager.js';
import type { ManagerStats } from '../protocol/stats.js';

export class LocalBackend implements AppBackend {
  constructor(readonly manager: Manager) {}

  perform(request: BackendRequest): BackendReply {
    const { manager } = this;
    switch (request.op) {
      case 'send': {
        const id = manager.sendOne(request.client, request.data);
        if (id > 0) return `{"ok":true,"id":${id}}`;
        return this.refusal({ ok: false, code: id === REFUSED_QUEUE_FULL ? 'queue_full' : 'memory_full', client: request.client });
      }
      case 'sendMany': {
        const result = manager.sendMany(request.clients, request.data);
        return result.ok ? `{"ok":true,"ids":[${result.ids.join(',')}]}` : this.refusal(result);
      }
      case 'status': {
        const { connected, queued } = manager.status(request.client);
        return `{"ok":true,"connected":${connected},"queued":${queued},"groups":${JSON.stringify(manager.groupsOf(request.client))}}`;
      }
      case 'join': {
        const result = manager.join(request.clients, request.group);
        if (result.ok) return `{"ok":true,"members":${result.members}}`;
        return errorJson(result.code === 'too_many_groups' ? tooManyGroups(result.client, MAX_GROUPS_PER_CLIENT) : memoryFull(manager.memoryBudget));
      }
      case 'leave': {
        const result = manager.leave(request.clients, request.group);
        if (result.ok) return `{"ok":true,"members":${result.members}}`;
        return errorJson(result.code === 'unknown_group' ? unknownGroup(request.group) : notMember(result.client, request.group));
      }
      case 'publish': {
        const result = manager.publish(request.group, request.data);
        if (result.ok) return `{"ok":true,"id":${result.id},"queued":${result.queued},"full":${result.full}}`;
        return errorJson(result.code === 'unknown_group' ? unknownGroup(request.group) : memoryFull(manager.memoryBudget));
      }
      case 'group': {
        const info = manager.group(request.group, request.limit ?? 0);
        if (info === null) return errorJson(unknownGroup(request.group));
        if (request.limit === undefined) return `{"ok":true,"members":${info.members}}`;
        return `{"ok":true,"members":${info.members},"clients":${JSON.stringify(info.clients)}}`;
      }
    }
  }

  stats(): ManagerStats {
    return this.manager.stats();
  }

  flushDeliveries(): void {
    this.manager.flushDeliveries();
  }

  /** The error reply to a refused send. */
  private refusal(refused: SendRefused): string {
    const { manager } = this;
    return errorJson(refused.code === 'queue_full' ? queueFull(refused.client, manager.maxQueue) : memoryFull(manager.memoryBudget));
  }
}
