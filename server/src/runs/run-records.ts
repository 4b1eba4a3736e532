import type { EndStatus, RunInfo } from '@gradwatch/shared';
import type { ProjectsService } from '../projects/projects.service.js';
import type { ProgressRow, RunRow, RunsRepo } from './runs.repo.js';

/** A stored run as ingest sees it. */
export type RunRecord = RunRow;

/** A hello that names a run id another project already uses. */
export class RunOfOtherProject extends Error {}

/** Another server took the run over: this one's writes for it were rolled back. */
export class LeaseLost extends Error {
  constructor(readonly runId: number) {
    super(`run ${runId} is now written by another server`);
  }
}

/**
 * The writes ingest makes to runs, inside its transactions: registration at hello, progress
 * on every commit, the model, the end, and rewinds. Queries only; ingest decides.
 */
export class RunRecords {
  constructor(
    private readonly repo: RunsRepo,
    private readonly projects: ProjectsService,
  ) {}

  find(uid: string): Promise<RunRow | undefined> {
    return this.repo.byUid(uid);
  }

  /**
   * Creates the run, or gives an existing one the hello's fields. An ended run stays ended:
   * a job that reconnects only to learn its end was stored must not make it live again;
   * the first message after the end does (reopen).
   */
  async register(r: RunInfo, now: string): Promise<RunRow> {
    const project = await this.projects.ensure(r.project);
    const existing = await this.repo.byUid(r.id);
    const fields = {
      name: r.name,
      tags: JSON.stringify(r.tags ?? []),
      config: JSON.stringify(r.config ?? {}),
      framework: r.framework ?? null,
      host: r.host ?? null,
      worldSize: r.worldSize ?? null,
      lastSeenAt: now,
    };
    if (!existing) return this.repo.insert({ uid: r.id, projectId: project.id, createdAt: now, ...fields });
    // Said without naming the other project: a token of one project learns nothing of another.
    if (existing.projectId !== project.id) throw new RunOfOtherProject(`run id ${r.id} is taken by another project; choose another id`);
    await this.repo.update(existing.id, fields);
    return { ...existing, ...fields };
  }

  /** An ended run gets data again: it is live until its next end. */
  reopen(id: number): Promise<void> {
    return this.repo.update(id, { status: 'live', endedAt: null });
  }

  /** Makes this server the run's one writer; returns the lease epoch its progress is fenced by. */
  claim(id: number, owner: string): Promise<number> {
    return this.repo.claim(id, owner);
  }

  /** Progress of every run a batch touched; throws LeaseLost for a run another server took over. */
  async progressAll(rows: readonly ProgressRow[], now: string): Promise<void> {
    const done = new Set(await this.repo.updateProgressMany(rows, now));
    const lost = rows.find((r) => !done.has(r.id));
    if (lost) throw new LeaseLost(lost.id);
  }


  /** The model as it came on the wire (non-finite numbers as their markers). */
  setModel(id: number, wireJson: string): Promise<void> {
    return this.repo.update(id, { model: wireJson });
  }

  /** The run's verdict, as JSON (docs/diagnosis.md). */
  setDiagnoses(id: number, json: string): Promise<void> {
    return this.repo.setDiagnoses(id, json);
  }

  async end(id: number, status: EndStatus, lastStep: number | null, now: string): Promise<void> {
    await this.repo.update(id, { status, endedAt: now });
    await this.repo.addEvent(id, 'end', lastStep, { status }, now);
  }

  async rewound(id: number, step: number, keptLastStep: number | null, previousLastStep: number | null, now: string): Promise<void> {
    await this.repo.update(id, { lastStep: keptLastStep });
    await this.repo.addEvent(id, 'rewind', step, { previousLastStep }, now);
  }
}
