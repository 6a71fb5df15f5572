// Who is signed in: kept in sessionStorage only (this tab; gone when it closes), never in a
// cookie or a URL. The last role ARN and region are remembered in localStorage (not secrets).

const KEY = 'keyless.console.session';

/**
 * The session: {accessKeyId, secretAccessKey, sessionToken?, expiration? (ISO 8601), region,
 * kind: 'root' | 'session', arn?, roleArn?, subject?}, or null.
 */
export function current() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function save(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clear() {
  sessionStorage.removeItem(KEY);
}

/** True when the session's temporary credentials have expired (root keys never do). */
export function expired(session) {
  return Boolean(session?.expiration) && Date.parse(session.expiration) <= Date.now();
}

export const remembered = {
  get: (name, fallback = '') => localStorage.getItem(`keyless.console.${name}`) || fallback,
  set: (name, value) => localStorage.setItem(`keyless.console.${name}`, value),
};
