//! Session records: `session:{sid}` with a TTL equal to the remaining lifetime, and an
//! index of each user's session ids so "end all sessions of this person" is one walk.

use time::OffsetDateTime;

use super::Session;
use crate::clock::Clock;
use crate::error::Result;
use crate::store::{decode, encode, keys, Event, Store, StoreResult};

const USER_SESSION_PAGE: usize = 500;

pub async fn save(store: &dyn Store, clock: &dyn Clock, session: &Session) -> Result<()> {
    let remaining = (session.expires_at - clock.now()).max(time::Duration::seconds(1));
    let ttl = std::time::Duration::try_from(remaining).unwrap_or(std::time::Duration::from_secs(1));
    store
        .put(&keys::session(&session.id), &encode(session)?, Some(ttl))
        .await?;
    store
        .index_add(&keys::user_sessions(&session.user_id), &session.id)
        .await?;
    Ok(())
}

pub async fn get(store: &dyn Store, sid: &str) -> StoreResult<Option<Session>> {
    let key = keys::session(sid);
    match store.get(&key).await? {
        Some(bytes) => decode(&key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// Records activity. A session deleted in the meantime stays deleted: the write only
/// happens while the record still exists, keeping its remaining TTL.
pub async fn touch(store: &dyn Store, sid: &str, at: OffsetDateTime) -> Result<()> {
    let Some(mut session) = get(store, sid).await? else {
        return Ok(());
    };
    session.last_seen_at = at;
    let remaining = session.expires_at - at;
    let Ok(ttl) = std::time::Duration::try_from(remaining) else {
        return Ok(());
    };
    let key = keys::session(sid);
    if store.get(&key).await?.is_some() {
        store.put(&key, &encode(&session)?, Some(ttl)).await?;
    }
    Ok(())
}

/// Deletes the record and tells every instance; returns whether it existed.
pub async fn revoke(store: &dyn Store, sid: &str) -> Result<bool> {
    let existed = match store.take(&keys::session(sid)).await? {
        Some(bytes) => {
            if let Ok(s) = decode::<Session>(sid, &bytes) {
                store
                    .index_remove(&keys::user_sessions(&s.user_id), sid)
                    .await?;
            }
            true
        }
        None => false,
    };
    store
        .publish(&Event::SessionRevoked {
            sid: sid.to_owned(),
        })
        .await?;
    Ok(existed)
}

/// Ends every session of a user; returns how many were live.
pub async fn revoke_all_for_user(store: &dyn Store, user_id: &str) -> Result<usize> {
    let index = keys::user_sessions(user_id);
    let mut ended = 0;
    loop {
        let sids = store.index_page(&index, 0, USER_SESSION_PAGE).await?;
        if sids.is_empty() {
            return Ok(ended);
        }
        for sid in sids {
            if revoke(store, &sid).await? {
                ended += 1;
            }
            // Also clears index entries whose record already expired.
            store.index_remove(&index, &sid).await?;
        }
    }
}

/// Live sessions of a user; index entries of expired sessions are pruned on the way.
pub async fn list_for_user(store: &dyn Store, user_id: &str) -> Result<Vec<Session>> {
    let index = keys::user_sessions(user_id);
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let sids = store.index_page(&index, offset, USER_SESSION_PAGE).await?;
        if sids.is_empty() {
            return Ok(out);
        }
        offset += sids.len();
        for sid in sids {
            match get(store, &sid).await? {
                Some(s) => out.push(s),
                None => {
                    store.index_remove(&index, &sid).await?;
                    offset -= 1;
                }
            }
        }
    }
}
