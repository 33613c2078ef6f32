// Which targets a run drives: the ones asked for, less Nchan when it is not installed and was
// not named (then a note says so and the run goes on); named and missing, it is an error.
import type { RunnerOptions } from './runner-options.js';
import type { TargetName } from './server-process.js';

export class MissingTargetError extends Error {}

export function chooseTargets(options: Pick<RunnerOptions, 'targets' | 'targetsGiven'>, nchanInstalled: boolean, missingMessage: string): { targets: TargetName[]; notes: string[] } {
  const targets = [...options.targets];
  if (!targets.includes('nchan') || nchanInstalled) return { targets, notes: [] };
  if (options.targetsGiven) throw new MissingTargetError(`--target nchan: ${missingMessage}`);
  return { targets: targets.filter((t) => t !== 'nchan'), notes: [`nchan left out: ${missingMessage}`] };
}
