// What the pages share: the signed-in account (null when signed out).

export const state = {
  account: null,
};
