import Type, { type Static } from 'typebox';
import { ProjectName } from './run.js';

/** What a token may do: ingest (stream runs), read (REST GETs, live socket), admin (everything). */
export const TokenScope = Type.Union([Type.Literal('ingest'), Type.Literal('read'), Type.Literal('admin')]);
export type TokenScope = Static<typeof TokenScope>;

export const TokenCreate = Type.Object(
  {
    scope: TokenScope,
    project: Type.Optional(ProjectName),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'RFC 3339 time after which the token is refused and its open sockets are closed; omitted: never' }),
    ),
  },
  { additionalProperties: false },
);
export type TokenCreate = Static<typeof TokenCreate>;

export const TokenInfo = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  scope: TokenScope,
  project: Type.Union([Type.String(), Type.Null()], { description: 'The one project the token is limited to; null: every project' }),
  hint: Type.String({ description: 'The first characters of the secret' }),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()], { description: 'When the token stops working (ISO, UTC); null: never' }),
});
export type TokenInfo = Static<typeof TokenInfo>;

/** The answer to a creation: the only time the secret is shown. */
export const TokenCreated = Type.Intersect([TokenInfo, Type.Object({ token: Type.String({ description: 'The secret; store it now, it is not shown again' }) })]);
export type TokenCreated = Static<typeof TokenCreated>;

export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) });
export type TokenList = Static<typeof TokenList>;
