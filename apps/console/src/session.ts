/** Which face of the console a key signs into; each keeps its own key. */
export type View = 'user' | 'operator';

const storageKey = (view: View) => `qv.console.${view}.apiKey`;

/**
 * API keys live in sessionStorage only: gone when the tab closes, never in localStorage, a cookie
 * or the URL, and never sent anywhere but this origin's API.
 */
export const session = {
  get: (view: View): string | undefined => sessionStorage.getItem(storageKey(view)) ?? undefined,
  set: (view: View, apiKey: string): void => sessionStorage.setItem(storageKey(view), apiKey),
  clear: (view: View): void => sessionStorage.removeItem(storageKey(view)),
};
