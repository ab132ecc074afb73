import { useState } from 'react';
import { ErrorNote, usePolling } from '../../shared/components.tsx';
import { useI18n } from '../../shared/i18n.tsx';
import { useSession } from '../session.tsx';

/** The signed-in analyst's passkeys, and adding one (the browser asks the authenticator). */
export function PasskeysPage() {
  const { client } = useSession();
  const { t, dateTime } = useI18n();
  const [refresh, setRefresh] = useState(0);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const { data, error } = usePolling(() => client.passkeys(), 0, [refresh]);
  return (
    <>
      <h1>{t('passkeys.title')}</h1>
      <p className="muted">{t('passkeys.help')}</p>
      {error === undefined ? null : <ErrorNote error={error} />}
      {data === undefined ? null : data.passkeys.length === 0 ? (
        <p className="muted">{t('passkeys.none')}</p>
      ) : (
        <table data-testid="passkey-list">
          <thead>
            <tr>
              <th>{t('passkeys.name')}</th>
              <th>{t('col.time')}</th>
              <th>{t('passkeys.lastUsed')}</th>
            </tr>
          </thead>
          <tbody>
            {data.passkeys.map((p) => (
              <tr key={p.credentialId}>
                <td>{p.name}</td>
                <td>{dateTime(p.createdAt)}</td>
                <td>{p.lastUsedAt === undefined ? '—' : dateTime(p.lastUsedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setNotice(undefined);
          client
            .addPasskey(name)
            .then(
              () => {
                setName('');
                setNotice({ ok: true, text: t('passkeys.added') });
                setRefresh((n) => n + 1);
              },
              (caught: unknown) =>
                setNotice({
                  ok: false,
                  text: `${t('passkeys.failed')}: ${caught instanceof Error ? caught.message : String(caught)}`,
                }),
            )
            .finally(() => setBusy(false));
        }}
      >
        <label>
          {t('passkeys.name')}
          <input
            value={name}
            maxLength={64}
            data-testid="passkey-name"
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={busy} data-testid="passkey-add">
          {t('passkeys.add')}
        </button>
      </form>
      {notice === undefined ? null : (
        <p
          className={notice.ok ? 'note' : 'error'}
          role={notice.ok ? 'status' : 'alert'}
          data-testid="passkey-notice"
        >
          {notice.text}
        </p>
      )}
    </>
  );
}
