// autocannon request factory for bench/identity: logins spread over many accounts (each account's throttle counts
// attempts in flight, as a real client population would), all with the right password.
import type autocannon from 'autocannon';

export interface LoginLoadArgs {
  emails: string[];
  password: string;
}

export function requests({ emails, password }: LoginLoadArgs): autocannon.Request[] {
  let next = 0;
  return [
    {
      method: 'POST',
      path: '/users/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const email = emails[next++ % emails.length];
        return { ...req, body: JSON.stringify({ email, password }) };
      },
    },
  ];
}
