"""What `citebot bot` does on a schedule (python-telegram-bot's JobQueue): sync the followed sources,
check the followed channels, send the standing questions' pushes.

- every CITEBOT_TELEGRAM_SYNC_SECONDS: the due feeds, sitemaps and folders are synced in a worker thread
  (``retrieval.sync_sources``, the same code as `citebot sync`; a source another process is syncing is
  skipped), the watches are asked about what that added, and each due followed channel is checked with
  Telegram (deleted? the bot still an administrator?);
- every CITEBOT_TELEGRAM_PUSH_SECONDS: the outbox is drained. A push is marked delivered right after
  Telegram accepted it, so a restart sends what was pending and nothing twice (the one window is a
  crash between the two, milliseconds). A chat that blocked the bot or no longer exists gets its push
  marked and logged instead of retried forever; a network failure leaves it pending for the next round.
"""
from __future__ import annotations

import logging
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application

from retrieval import check_watches, sync_sources
from retrieval.sources.sync import fetcher_for

from bot.channels import check_channels
from bot.context import Context
from bot.handlers.common import NO_PREVIEW, blocking
from bot.handlers.watches import push_messages

log = logging.getLogger(__name__)

FIRST_SYNC_S = 3.0  # after start-up, so the first look does not race the start-up itself
FIRST_PUSH_S = 1.0


def schedule(app: Application, settings: Any) -> None:
    """Register the repeating jobs (they start with the application)."""
    queue = app.job_queue
    if queue is None:
        log.warning("python-telegram-bot's job-queue extra is missing: the bot will not sync sources or send "
                    "watch pushes (pip install 'python-telegram-bot[job-queue]')")
        return
    sync_every = settings.telegram_sync_seconds
    push_every = settings.telegram_push_seconds
    if sync_every > 0:
        queue.run_repeating(sync_due, interval=sync_every, first=min(FIRST_SYNC_S, sync_every), name="sync")
    if push_every > 0:
        queue.run_repeating(send_pushes, interval=push_every, first=min(FIRST_PUSH_S, push_every), name="pushes")


def _sync_and_check(data: Any) -> tuple[Any, int]:
    """(the sync report, pushes queued): due sources synced, then the watches asked about the new documents.
    One fetcher for the bot's life (`citebot sync`'s: CITEBOT_SYNC_HOST_DELAY between requests to a host,
    the URL guard), so the per-host turns span rounds; entries per sync: CITEBOT_SYNC_MAX_ENTRIES."""
    if data.fetcher is None:
        data.fetcher = fetcher_for(data.corpus.settings)
    report = sync_sources(data.corpus, data.sources, fetcher=data.fetcher)
    changed = report.new_doc_ids + report.replaced_doc_ids
    queued = check_watches(data.corpus, data.watches, changed) if changed else 0
    return report, queued


async def sync_due(context: Context) -> None:
    """One look at the followed sources (see the module doc), started in the background so a long sync
    (many feeds, polite delays) never holds the scheduler; a look while the last one still runs is
    skipped, so rounds never overlap."""
    data = context.bot_data
    if not context.application.running:  # stopping: no new round
        return
    if data.syncing:
        log.debug("the previous sync round is still running; this look is skipped")
        return
    data.syncing = True
    context.application.create_task(_sync_round(context), name="citebot-sync")


async def _sync_round(context: Context) -> None:
    data = context.bot_data
    try:
        await _sync_and_report(context)
    finally:
        data.syncing = False


async def _sync_and_report(context: Context) -> None:
    data = context.bot_data
    report, queued = await blocking(_sync_and_check, data)
    for result in report.results:
        if result.status == "error":
            log.warning("source %s (%s): %s", result.source_id, result.name, result.error)
        elif result.status not in ("skipped", "not-due"):
            log.info("source %s (%s): %s, %d new, %d replaced", result.source_id, result.name, result.status,
                     len(result.new_doc_ids), len(result.replaced_doc_ids))
    if queued:
        log.info("%d new answer(s) queued for standing questions", queued)
    await check_channels(context.bot, data.sources)


async def send_pushes(context: Context) -> int:
    """Send every pending push once; returns how many were sent."""
    watches = context.bot_data.watches
    sent = 0
    for item in await blocking(watches.pending):
        messages, markup = push_messages(item)
        try:
            for i, text in enumerate(messages):
                await context.bot.send_message(item.push.chat_id, text, parse_mode=ParseMode.HTML,
                                               link_preview_options=NO_PREVIEW,
                                               reply_markup=markup if i == len(messages) - 1 else None)
        except (Forbidden, BadRequest) as exc:  # blocked, kicked, chat gone: retrying would not help
            log.warning("push %s to chat %s not delivered (%s); dropped", item.push.id, item.push.chat_id, exc.message)
        except TelegramError as exc:  # the network or Telegram: try again next round
            log.info("push %s to chat %s failed (%s); retried later", item.push.id, item.push.chat_id, exc)
            return sent
        else:
            sent += 1
            log.info("push %s delivered to chat %s (watch %s)", item.push.id, item.push.chat_id, item.push.watch_id)
        await blocking(watches.delivered, item.push.id)
    return sent
