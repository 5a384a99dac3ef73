"""Interface texts in English and Russian, picked from the user's Telegram ``language_code``.

Texts are plain strings with ``{name}`` fields; values are HTML-escaped by the caller (render.py)
before formatting, so a text itself may contain Telegram HTML tags.
"""
from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "start": (
            "Hello! I answer questions about the news articles in my library, quoting them word for word "
            "and citing each source, so you can check every answer.\n\n"
            "Just send me a question. /help lists the commands."
        ),
        "help": (
            "<b>Ask</b> — send any text in a private chat, or <code>/ask QUESTION</code>; in groups mention me "
            "or reply to me.\n"
            "/new — a new conversation (follow-up questions refer to earlier ones until then)\n"
            "<code>/watch QUESTION</code> — be told here when new documents answer it; /watches, "
            "<code>/unwatch ID</code>\n"
            "/sources — the documents in the library\n"
            "/stats — library size\n"
            "Under each answer: <b>More sources</b> shows further passages, 👍/👎 (a button or a reaction) "
            "tells us if it helped.\n"
            "In any other chat, type @ and my name, then a question, to post a cited answer there."
        ),
        "help_admin": (
            "\n\n<b>Admin</b>\n"
            "Send a file with the caption <code>/add</code> (or reply <code>/add</code> to a file) to add it.\n"
            "<code>/add Title</code> + new line + text adds a text.\n"
            "<code>/add --force</code> adds a near-duplicate (e.g. an updated version) anyway.\n"
            "<code>/remove ID</code> removes a document (ids are in /documents).\n"
            "/sources — the followed sources; <code>/follow URL</code> (a feed or sitemap) or "
            "<code>/follow @channel</code>, <code>/unfollow ID</code>."
        ),
        "cmd_start": "Introduction",
        "cmd_help": "How to use the bot",
        "cmd_ask": "Ask a question",
        "cmd_sources": "Documents in the library",
        "cmd_stats": "Library size",
        "no_answer": "I found nothing in the library that answers this.",
        "nearest": "<i>Nearest, not an answer:</i>",
        "show_nearest": "Show these passages",
        "nearest_head": "<b>Nearest passages</b> for “{question}” ({first}–{last}); they do not answer it:",
        "about": "<i>about: {query}</i>",
        "quoted_from_en": "<i>Quoted from an English source.</i>",
        "quoted_from_ru": "<i>Quoted from a Russian source.</i>",
        "searching": "Searching…",
        "checking": "Checking {count} sources…",
        "checking_one": "Checking 1 source…",
        "inline_hint": "Type a question, e.g. “when did the talks stop?”",
        "inline_more": "Ask the bot for more",
        "inline_nothing": "Nothing in the library answers this",
        "inline_not_allowed": "This bot is private",
        "empty_question": "Please write a question, e.g. <code>/ask When did the talks stop?</code>",
        "more_sources": "More sources",
        "more_head": "<b>More sources</b> for “{question}” ({first}–{last}):",
        "no_more": "No more sources.",
        "prev": "◀ Back",
        "next": "More ▶",
        "thanks": "Thanks for the feedback!",
        "expired": "This button has expired; please ask again.",
        "not_allowed": "Sorry, this bot is private and you are not on its access list.",
        "admins_only": "Sorry, only the bot's admins can change the library.",
        "slow_down": "Please slow down: at most {limit} questions a minute. Try again in {seconds} s.",
        "error": "Sorry, something went wrong on my side. Please try again in a moment.",
        "sources_empty": "The library is empty.",
        "sources_past_end": "There is no page {page}; see /sources for the first page.",
        "sources_page": "<b>Documents</b> {first}–{last}:",
        "stats": "<b>Library</b>\n{lines}",
        "stat_documents": "Documents",
        "stat_passages": "Passages",
        "stat_model": "Embedding model",
        "add_usage": (
            "To add a document send a file with the caption <code>/add</code>, reply <code>/add</code> to a "
            "file, write <code>/add Title</code>, a new line and the text, or <code>/add https://…</code> for a web page."
        ),
        "add_too_large": "“{name}” is too large ({size} MB); the limit is {limit} MB.",
        "add_unsupported": "“{name}”: this file type is not supported.",
        "added": "Added “{title}”{date}: {passages} passages (id {doc_id}).",
        "replaced": "Replaced “{title}”{date}: {passages} passages (id {doc_id}).",
        "duplicate": "Not added: “{title}” is already in the library{detail}.",
        "add_failed": "Not added: {reason}",
        "same_as": "same text as document {doc_id}",
        "nearly_as": "nearly identical to document {doc_id}",
        "force_hint": " To add it anyway, send it again with <code>/add --force</code>.",
        "remove_usage": "Usage: <code>/remove ID</code> (ids are in /sources).",
        "removed": "Removed “{title}” (id {doc_id}).",
        "err_question_too_long": "The question is {length} characters long; the limit is {limit}. Please shorten it.",
        "err_no_document": "There is no document {ref} in the library; the ids are in /sources.",
        "err_reindex_needed": "The library was indexed with another embedding model than {model}; nothing can be "
                              "added until it is re-indexed (`citebot reindex` on the server).",
        "short_help": "I answer questions about the news in my library: send me a question as text. "
                      "/help lists the commands.",
        "restarting": "Sorry, I was restarting and missed your message. Please send it again.",
        "searched_for": "<i>Searched for: {query}</i>",
        "forgotten": "New conversation: I have forgotten the earlier questions.",
        "cmd_new": "Start a new conversation",
        "show_quotes": "Show quotes",
        "quotes_head": "<b>Supporting quotes</b>",
        # followed sources and standing questions (bot/handlers/follow.py, watches.py)
        "cmd_watch": "Be told when new documents answer a question",
        "cmd_watches": "Your standing questions",
        "followed_head": "<b>Followed sources</b> (the documents: /documents)",
        "followed_empty": ("No followed sources yet. <code>/follow https://…/feed.xml</code> follows a feed or a sitemap, "
                           "<code>/follow @channel</code> a Telegram channel where I am an administrator."),
        "source_line": "<code>{id}</code> {kind} <b>{name}</b> · every {every} · {status}",
        "source_ok": "synced {when}, {entries} entries",
        "source_never": "not synced yet",
        "source_error": "⚠ {error} ({failures} failures in a row)",
        "follow_usage": ("Usage: <code>/follow URL</code> (an RSS, Atom or JSON feed, or a sitemap) or "
                         "<code>/follow @channel</code>, optionally with an interval: <code>/follow URL 1h</code>."),
        "follow_done": "Following <b>{name}</b> (source {id}, every {every}).",
        "follow_warn": "\n⚠ {problem}. Make me an administrator of the channel so I receive its posts.",
        "follow_not_found": ("I cannot find the channel {ref}: check its name, and add me to it as an administrator "
                             "(a private channel is followed by its id, e.g. <code>/follow -1001234567890</code>)."),
        "follow_folder": "Folders are followed on the server: <code>citebot sources add DIR</code>.",
        "unfollow_usage": "Usage: <code>/unfollow ID</code> (ids are in /sources).",
        "unfollowed": "Stopped following <b>{name}</b> (source {id}); its documents stay in the library.",
        "unfollowed_short": "Stopped following source {id}.",
        "err_source_exists": "{location} is followed already (source {id}).",
        "err_no_source": "There is no source {ref}; the ids are in /sources.",
        "err_bad_interval": "“{value}” is not an interval: use 90s, 30m, 1h or 1d.",
        "err_bad_source": "That is not a feed or sitemap URL or a @channel.",
        "watch_usage": ("Usage: <code>/watch QUESTION</code>. I will ask it again whenever new documents arrive and "
                        "send the answer here."),
        "watch_added": ("Watching: “{question}” (id {id}). When new documents answer it, I will send the answer here. "
                        "/watches lists the standing questions."),
        "watches_head": "<b>Standing questions</b> in this chat:",
        "watches_empty": "No standing questions here. <code>/watch QUESTION</code> adds one.",
        "watch_line": "<code>{id}</code> {question}",
        "unwatch_usage": "Usage: <code>/unwatch ID</code> (ids are in /watches).",
        "unwatched": "Stopped watching “{question}”.",
        "unwatched_short": "Stopped watching.",
        "unwatch_button": "Stop watching",
        "watch_push": "🔔 <b>New on your watch:</b> {question}",
        "err_watch_limit": "You already have {limit} standing questions, the most allowed; remove one with /unwatch ID.",
        "err_no_watch": "There is no standing question {ref} in this chat; /watches lists them.",
    },
    "ru": {
        "start": (
            "Здравствуйте! Я отвечаю на вопросы по новостным статьям из моей библиотеки, цитирую их дословно "
            "и указываю источник каждой цитаты, чтобы любой ответ можно было проверить.\n\n"
            "Просто пришлите вопрос. Команды — в /help."
        ),
        "help": (
            "<b>Вопрос</b> — любой текст в личном чате или <code>/ask ВОПРОС</code>; в группах упомяните меня "
            "или ответьте на моё сообщение.\n"
            "/new — новый разговор (до него уточняющие вопросы относятся к прежним)\n"
            "<code>/watch ВОПРОС</code> — сообщить сюда, когда новые документы ответят на него; /watches, "
            "<code>/unwatch ID</code>\n"
            "/sources — документы в библиотеке\n"
            "/stats — размер библиотеки\n"
            "Под ответом: <b>Ещё источники</b> — другие фрагменты, 👍/👎 (кнопка или реакция) — помог ли ответ.\n"
            "В любом другом чате наберите @ и моё имя, затем вопрос, чтобы отправить туда ответ с источниками."
        ),
        "help_admin": (
            "\n\n<b>Администратор</b>\n"
            "Пришлите файл с подписью <code>/add</code> (или ответьте <code>/add</code> на файл), чтобы добавить его.\n"
            "<code>/add Заголовок</code> + новая строка + текст добавляет текст.\n"
            "<code>/add --force</code> добавляет почти совпадающий документ (например, новую версию).\n"
            "<code>/remove ID</code> удаляет документ (id — в /documents).\n"
            "/sources — отслеживаемые источники; <code>/follow URL</code> (лента или карта сайта) или "
            "<code>/follow @channel</code>, <code>/unfollow ID</code>."
        ),
        "cmd_start": "Знакомство",
        "cmd_help": "Как пользоваться ботом",
        "cmd_ask": "Задать вопрос",
        "cmd_sources": "Документы в библиотеке",
        "cmd_stats": "Размер библиотеки",
        "no_answer": "В библиотеке нет ничего, что отвечает на этот вопрос.",
        "nearest": "<i>Ближе всего, но не ответ:</i>",
        "show_nearest": "Показать эти фрагменты",
        "nearest_head": "<b>Ближайшие фрагменты</b> по запросу «{question}» ({first}–{last}); ответа в них нет:",
        "about": "<i>о том: {query}</i>",
        "quoted_from_en": "<i>Цитата из англоязычного источника.</i>",
        "quoted_from_ru": "<i>Цитата из русскоязычного источника.</i>",
        "searching": "Ищу…",
        "checking": "Проверяю источники: {count}…",
        "checking_one": "Проверяю источник…",
        "inline_hint": "Напишите вопрос, например «когда прекратились переговоры?»",
        "inline_more": "Спросить бота подробнее",
        "inline_nothing": "В библиотеке нет ответа на этот вопрос",
        "inline_not_allowed": "Это закрытый бот",
        "empty_question": "Напишите вопрос, например <code>/ask Когда прекратились переговоры?</code>",
        "more_sources": "Ещё источники",
        "more_head": "<b>Ещё источники</b> по запросу «{question}» ({first}–{last}):",
        "no_more": "Других источников нет.",
        "prev": "◀ Назад",
        "next": "Ещё ▶",
        "thanks": "Спасибо за отзыв!",
        "expired": "Эта кнопка устарела; задайте вопрос ещё раз.",
        "not_allowed": "Извините, это закрытый бот, и вас нет в списке допуска.",
        "admins_only": "Извините, менять библиотеку могут только администраторы бота.",
        "slow_down": "Пожалуйста, помедленнее: не больше {limit} вопросов в минуту. Попробуйте через {seconds} с.",
        "error": "Извините, у меня что-то сломалось. Попробуйте ещё раз чуть позже.",
        "sources_empty": "Библиотека пуста.",
        "sources_past_end": "Страницы {page} нет; первая страница — /sources.",
        "sources_page": "<b>Документы</b> {first}–{last}:",
        "stats": "<b>Библиотека</b>\n{lines}",
        "stat_documents": "Документов",
        "stat_passages": "Фрагментов",
        "stat_model": "Модель эмбеддингов",
        "add_usage": (
            "Чтобы добавить документ, пришлите файл с подписью <code>/add</code>, ответьте <code>/add</code> на "
            "файл, напишите <code>/add Заголовок</code>, новую строку и текст или <code>/add https://…</code> для веб-страницы."
        ),
        "add_too_large": "«{name}» слишком большой ({size} МБ); предел — {limit} МБ.",
        "add_unsupported": "«{name}»: этот тип файлов не поддерживается.",
        "added": "Добавлено «{title}»{date}: фрагментов — {passages} (id {doc_id}).",
        "replaced": "Заменено «{title}»{date}: фрагментов — {passages} (id {doc_id}).",
        "duplicate": "Не добавлено: «{title}» уже есть в библиотеке{detail}.",
        "add_failed": "Не добавлено: {reason}",
        "same_as": "тот же текст, что у документа {doc_id}",
        "nearly_as": "почти совпадает с документом {doc_id}",
        "force_hint": " Чтобы всё равно добавить, пришлите его ещё раз с <code>/add --force</code>.",
        "remove_usage": "Использование: <code>/remove ID</code> (id — в /sources).",
        "removed": "Удалено «{title}» (id {doc_id}).",
        "err_question_too_long": "Вопрос длиной {length} символов; предел — {limit}. Сократите его, пожалуйста.",
        "err_no_document": "Документа {ref} в библиотеке нет; id документов — в /sources.",
        "err_reindex_needed": "Библиотека проиндексирована другой моделью, не {model}; добавлять документы можно "
                              "после переиндексации (`citebot reindex` на сервере).",
        "short_help": "Я отвечаю на вопросы по новостям из моей библиотеки: пришлите вопрос текстом. "
                      "Команды — в /help.",
        "restarting": "Извините, я перезапускался и пропустил ваше сообщение. Пришлите его ещё раз.",
        "searched_for": "<i>Искал: {query}</i>",
        "forgotten": "Новый разговор: прежние вопросы забыты.",
        "cmd_new": "Начать новый разговор",
        "show_quotes": "Показать цитаты",
        "quotes_head": "<b>Подтверждающие цитаты</b>",
        # отслеживаемые источники и постоянные вопросы (bot/handlers/follow.py, watches.py)
        "cmd_watch": "Сообщать, когда новые документы ответят на вопрос",
        "cmd_watches": "Ваши постоянные вопросы",
        "followed_head": "<b>Отслеживаемые источники</b> (документы: /documents)",
        "followed_empty": ("Отслеживаемых источников пока нет. <code>/follow https://…/feed.xml</code> — лента или "
                           "карта сайта, <code>/follow @channel</code> — канал Telegram, где я администратор."),
        "source_line": "<code>{id}</code> {kind} <b>{name}</b> · каждые {every} · {status}",
        "source_ok": "синхронизирован {when}, записей: {entries}",
        "source_never": "ещё не синхронизирован",
        "source_error": "⚠ {error} (ошибок подряд: {failures})",
        "follow_usage": ("Использование: <code>/follow URL</code> (лента RSS, Atom, JSON или карта сайта) или "
                         "<code>/follow @channel</code>, можно с интервалом: <code>/follow URL 1h</code>."),
        "follow_done": "Отслеживаю <b>{name}</b> (источник {id}, каждые {every}).",
        "follow_warn": "\n⚠ {problem}. Сделайте меня администратором канала, чтобы я получал его посты.",
        "follow_not_found": ("Не нахожу канал {ref}: проверьте имя и добавьте меня в канал администратором "
                             "(закрытый канал — по id, например <code>/follow -1001234567890</code>)."),
        "follow_folder": "Папки отслеживаются на сервере: <code>citebot sources add DIR</code>.",
        "unfollow_usage": "Использование: <code>/unfollow ID</code> (id — в /sources).",
        "unfollowed": "Больше не отслеживаю <b>{name}</b> (источник {id}); его документы остаются в библиотеке.",
        "unfollowed_short": "Источник {id} больше не отслеживается.",
        "err_source_exists": "{location} уже отслеживается (источник {id}).",
        "err_no_source": "Источника {ref} нет; id источников — в /sources.",
        "err_bad_interval": "«{value}» — не интервал: используйте 90s, 30m, 1h или 1d.",
        "err_bad_source": "Это не адрес ленты или карты сайта и не @канал.",
        "watch_usage": ("Использование: <code>/watch ВОПРОС</code>. Я буду задавать его снова, когда появятся новые "
                        "документы, и пришлю ответ сюда."),
        "watch_added": ("Слежу за вопросом «{question}» (id {id}). Когда новые документы на него ответят, пришлю "
                        "ответ сюда. Список — /watches."),
        "watches_head": "<b>Постоянные вопросы</b> этого чата:",
        "watches_empty": "Постоянных вопросов здесь нет. <code>/watch ВОПРОС</code> добавит вопрос.",
        "watch_line": "<code>{id}</code> {question}",
        "unwatch_usage": "Использование: <code>/unwatch ID</code> (id — в /watches).",
        "unwatched": "Больше не слежу за вопросом «{question}».",
        "unwatched_short": "Больше не слежу.",
        "unwatch_button": "Не следить",
        "watch_push": "🔔 <b>Новое по вашему вопросу:</b> {question}",
        "err_watch_limit": "У вас уже {limit} постоянных вопросов — это максимум; удалите один: /unwatch ID.",
        "err_no_watch": "Постоянного вопроса {ref} в этом чате нет; список — /watches.",
    },
}

DEFAULT_LANG = "en"


def lang_of(language_code: str | None) -> str:
    """Russian for ``ru`` and ``ru-*`` language codes, English for everything else."""
    code = (language_code or "").lower().split("-")[0]
    return "ru" if code == "ru" else DEFAULT_LANG


def t(key: str, lang: str = DEFAULT_LANG, **fields: object) -> str:
    """The text ``key`` in ``lang`` with ``fields`` filled in (fields must already be escaped)."""
    table = TEXTS.get(lang, TEXTS[DEFAULT_LANG])
    text = table.get(key) or TEXTS[DEFAULT_LANG][key]
    return text.format(**fields) if fields else text


def number(value: int, lang: str = DEFAULT_LANG) -> str:
    """An integer with the thousands separator of ``lang``: 2,799 in English, 2 799 in Russian."""
    text = f"{int(value):,}"
    return text.replace(",", "\u202f") if lang == "ru" else text
