import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { EndMsg, EvalMsg, Hello, HistMsg, HistsMsg, ModelMsg, StepsMsg } from '@gradwatch/shared';

export interface Validator<T> {
  check(v: unknown): v is T;
  /** The first problem, phrased for the sender: "/items/0/step: must be integer". */
  explain(v: unknown): string;
}

export function validator<T>(schema: TSchema): Validator<T> {
  // Compiled at first use: compiling all of them at import was a tenth of the server's start.
  let compiled: ReturnType<typeof Compile> | undefined;
  const get = () => (compiled ??= Compile(schema));
  return {
    check: (v: unknown): v is T => get().Check(v),
    explain: (v: unknown) => {
      for (const e of get().Errors(v)) return `${e.instancePath || '(message)'}: ${e.message}`;
      return 'invalid message';
    },
  };
}

export const validators = {
  hello: validator<Hello>(Hello),
  model: validator<ModelMsg>(ModelMsg),
  steps: validator<StepsMsg>(StepsMsg),
  eval: validator<EvalMsg>(EvalMsg),
  hist: validator<HistMsg>(HistMsg),
  hists: validator<HistsMsg>(HistsMsg),
  end: validator<EndMsg>(EndMsg),
};
