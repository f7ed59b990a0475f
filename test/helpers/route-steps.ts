/**
 * Routes that change step by step, as a project's do: crowdtap publishes users, sniper stores
 * them; then a model, a subscription, attributes (one a relation), a subtype and an API version
 * are added, each step changing what exactly one app's database needs.
 */

export interface RoutesStep {
  readonly name: string;
  /** The app whose database the step changes: the one that gets a new migration. */
  readonly app: 'crowdtap' | 'sniper';
  readonly routes: string;
}

const publisher = (step: number) => [
  'app crowdtap',
  ...(step >= 1 ? ['publish organizations as Organization { id integer primary, name string }'] : []),
  'publish users as User to "crowdtap/user" {',
  '  id      uuid primary',
  '  name    string',
  ...(step >= 3 ? ['  email   string?', '  org_id  belongs_to Organization?'] : []),
  '}',
  ...(step >= 4 ? ['publish users as Member extends User when type = "Member" { points integer }'] : []),
  ...(step >= 5
    ? ['publish users as UserV2 to "crowdtap/user_v2" { id uuid primary, full_name string column name }']
    : []),
];

const subscriber = (step: number) => [
  'app sniper',
  'subscribe User from "crowdtap/user" into members foreign_key crowdtap_id uuid {',
  '  name',
  ...(step >= 3 ? ['  email as contact_email', '  org_id'] : []),
  '}',
  ...(step >= 2 ? ['subscribe Organization from "crowdtap/organization" { name }'] : []),
  ...(step >= 4 ? ['subscribe Member extends User { points }'] : []),
  ...(step >= 5
    ? ['subscribe UserV2 from "crowdtap/user_v2" into profiles foreign_key crowdtap_id uuid { full_name }']
    : []),
];

const routes = (step: number) => `${[...publisher(step), '', ...subscriber(step)].join('\n')}\n`;

/** The first routes, and then each step. */
export const firstRoutes = routes(0);

/**
 * After the last step, sniper stops storing organizations and users' names: nothing is
 * dropped but the foreign key that would now refuse its rows, and `name` allows NULL.
 */
export const removalRoutes = routes(5)
  .replace('subscribe Organization from "crowdtap/organization" { name }\n', '')
  .replace('  name\n  email as contact_email', '  email as contact_email');

export const routesSteps: readonly RoutesStep[] = [
  { name: 'a model', app: 'crowdtap', routes: routes(1) },
  { name: 'a subscription', app: 'sniper', routes: routes(2) },
  { name: 'an attribute, and a relation', app: 'sniper', routes: routes(3) },
  { name: 'a subtype', app: 'sniper', routes: routes(4) },
  { name: 'an endpoint version', app: 'sniper', routes: routes(5) },
];
