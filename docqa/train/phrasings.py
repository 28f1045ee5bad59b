"""The words of the recall tasks: statement and question frames, subjects, names, places, values.

Every list is split the same fixed way: each fourth entry (index % 4 == 3) is *held out*, never
used in training, so the bench can report recall on phrasings and names the model never saw
beside the ones it did. `split(items, "train" | "heldout" | "all")` does the cut.
"""

from __future__ import annotations

import random

# Needles: "{s}" is the subject (what the value is), "{v}" the value.
STATEMENTS = [
    "The {s} is {v}.",
    "Remember: the {s} is {v}.",
    "Note that the {s} is {v}.",
    "For the record, the {s} is {v}.",
    "The {s} has been set to {v}.",
    "Please keep this safe: the {s} is {v}.",
    "Today the {s} is {v}. Do not forget it.",
    "Our {s} is {v}.",
    "The {s} we agreed on is {v}.",
    "Write this down: {s} = {v}.",
    "It is important to remember that the {s} is {v}.",
    "The current {s} reads {v}.",
]
# Statement frames for training only (TrainConfig.open_frames), never held out and never in the
# bench, on top of STATEMENTS' training share: with nine frames to learn from, the write strength
# learned to fire on those nine, and a needle in a held-out frame was often not written at all
# under write_threshold (docs/TRAINING.md, December, seventh session). None of them shares the
# held-out frames' wording ("for the record", "agreed on", "current ... reads");
# tests/train/test_question_tasks.py checks that.
TRAIN_ONLY_STATEMENTS = [
    "Heads up: the {s} is {v}.",
    "The {s}? It is {v}.",
    "We set the {s} to {v} yesterday.",
    "{v} is the {s}.",
    "Use {v} as the {s}.",
    "The new {s} will be {v}.",
    "Just so you know, our {s} is now {v}.",
    "The {s} was changed to {v}.",
    "Keep in mind that the {s} is {v}.",
    "The {s} you need is {v}.",
    "In case you forget, the {s} is {v}.",
    "My {s} is {v}.",
    "Their {s} is {v}.",
    "Someone changed the {s} to {v}.",
    "The {s} is listed as {v}.",
    "Officially, the {s} is {v}.",
    "Here is the {s}: {v}.",
    "The {s} stays {v} until further notice.",
    "Do not share it: the {s} is {v}.",
    "Last week the {s} became {v}.",
]
# Composed statement frames for training only (TrainConfig.composed_frames): an opener, a
# determiner, a link to the value and a closer, drawn independently, about 12,000 frames. Held out
# is not one frame but a way of saying a fact; so the model should learn that any link from a
# subject to a value states it, not a list of links. Nothing here shares a held-out frame's own
# wording ("for the record", "agreed", "current", "reads", "our"); tests/train/test_question_tasks.py
# checks that.
COMPOSED_OPENERS = ["", "", "", "Heads up: ", "FYI, ", "Note: ", "Important: ", "As of today, ",
                    "Since Monday, ", "According to the admin, ", "Reminder: ", "By the way, ",
                    "Quick update: ", "Officially, "]
COMPOSED_DETERMINERS = ["the", "the", "my", "their", "your", "his", "her", "the new", "the old",
                        "the official", "the team's", "this year's", "the main"]
COMPOSED_LINKS = ["is {v}", "is now {v}", "was set to {v}", "has become {v}", "equals {v}",
                  "shows {v}", "says {v}", "stands at {v}", "is listed as {v}", "was changed to {v}",
                  "= {v}", "is still {v}", "will be {v}", "remains {v}", "comes out as {v}",
                  "displays {v}", "was updated to {v}", "is given as {v}", "turned out to be {v}",
                  "should be {v}", "is exactly {v}", "matches {v}"]
COMPOSED_CLOSERS = [".", ".", ".", ". Keep it safe.", ". Do not share it.", " (do not lose it).",
                    ". Write it down.", ", as far as I know.", ", for now.", " again."]


# Links that are verbs other than "to be", for TrainConfig.wide_links. A needle linked by such a
# verb is recalled far less often than one linked by "is", seen or not: bpe-a34 at 4K tokens, needle
# at the end, n 40 (benchmarks/bench_heldout_parts.py --frame): "The {s} is {v}." 0.90, "... shows
# {v}." 0.75, "... says {v}." 0.50 (both in COMPOSED_LINKS, each a 22nd of its links), "... reads
# {v}." 0.53, while "The current {s} is {v}." reads 0.90. The held-out frame "The current {s} reads
# {v}." loses to its verb, not its wording; this list makes such verbs common and many, so that the
# key a value is written under stops hanging on the word before it. None is a held-out frame's verb
# ("reads"), and none is one of the probe verbs kept out of every list to check the gain on verbs
# nobody aimed at ("appears as", "happens to be", "goes by", "reflects"; PROBE_LINKS).
WIDE_LINKS = ["shows {v}", "says {v}", "displays {v}", "lists {v}", "gives {v}", "holds {v}",
              "indicates {v}", "notes {v}", "states {v}", "contains {v}", "carries {v}", "spells {v}",
              "points to {v}", "lands on {v}", "sits at {v}", "stays at {v}", "prints {v}",
              "outputs {v}", "returns {v}", "yields {v}", "comes to {v}", "amounts to {v}", "totals {v}",
              "maps to {v}", "resolves to {v}", "translates to {v}", "answers to {v}", "is known as {v}",
              "is called {v}", "came out as {v}", "came back as {v}", "turned into {v}", "switched to {v}",
              "moved to {v}", "changed to {v}", "rolled over to {v}", "got reset to {v}", "is pinned to {v}",
              "is locked at {v}", "is fixed at {v}", "is kept at {v}", "is held at {v}",
              "is registered as {v}", "is stored as {v}", "is saved as {v}", "is logged as {v}",
              "is filed as {v}", "is entered as {v}", "is posted as {v}", "is set at {v}",
              "is marked {v}", "is labelled {v}", "is printed as {v}", "is written as {v}", "reports {v}",
              "registers {v}", "measures {v}", "signals {v}", "flashes {v}", "announces {v}",
              "declares {v}", "confirms {v}", "specifies {v}", "mentions {v}", "names {v}", "cites {v}",
              "quotes {v}", "tells us {v}", "jumped to {v}", "reverted to {v}", "settled on {v}",
              "ended up at {v}", "defaults to {v}", "refers to {v}", "stands for {v}", "went up to {v}",
              "dropped to {v}", "shifted to {v}", "was moved to {v}", "was reassigned to {v}",
              "was fixed at {v}", "gets printed as {v}", "shows up as {v}", "comes up as {v}"]
# Links kept out of every training list: a check that a gain from WIDE_LINKS is on link verbs in
# general and not on the words it lists (the bench's held-out "reads" was known when it was written).
PROBE_LINKS = ["appears as {v}", "happens to be {v}", "goes by {v}", "reflects {v}"]


def _link(rng: random.Random, wide_links: float) -> str:
    """A composed link to the value: with chance `wide_links` one of WIDE_LINKS, else one of
    COMPOSED_LINKS. No draw for the chance when it is 0, so runs from before WIDE_LINKS replay."""
    wide = wide_links and rng.random() < wide_links
    return rng.choice(WIDE_LINKS if wide else COMPOSED_LINKS)


def _sentence(text: str) -> str:
    """A composed frame as a sentence: its first letter capitalised, unless it starts with a slot."""
    return text[0].upper() + text[1:] if not text.startswith("{") else text


def composed_statement(rng: random.Random, wide_links: float = 0.0) -> str:
    """A training statement frame ("{s}", "{v}") drawn from the COMPOSED_* parts; a sixth of them
    put the value first ("{v} is the {s}."). With chance `wide_links` a linked frame takes its link
    from WIDE_LINKS instead of COMPOSED_LINKS (no draw when 0, so earlier runs replay)."""
    opener, det = rng.choice(COMPOSED_OPENERS), rng.choice(COMPOSED_DETERMINERS)
    closer = rng.choice(COMPOSED_CLOSERS)
    if rng.random() < 1 / 6:
        body = f"{{v}} is {det} {{s}}"
    else:
        body = f"{det} {{s}} {_link(rng, wide_links)}"
    return _sentence(opener + body + closer)


# Composed needle questions for training only (TrainConfig.composed_questions): an opener, a body
# and a closer drawn apart. Two families, since people ask both ways: questions (what/which/do you,
# closed by "?") and requests (a verb and the subject, closed by "."). Nothing here shares the
# held-out questions' wording ("which value", "give"); tests/train/test_question_tasks.py checks that.
# a32 (docs/TRAINING.md, seventeenth session) ran with the questions alone; its held-out misses were
# mostly the held-out request, which this set then did not have.
COMPOSED_QUESTION_OPENERS = ["", "", "", "Quick question: ", "Remind me, ", "Sorry, ", "One more thing: ",
                             "Before we go on, ", "From the text above, "]
COMPOSED_QUESTION_BODIES = ["what is the {s}", "what's the {s}", "what was the {s} again",
                            "what did the {s} say", "what is the {s} now", "what was the {s} set to",
                            "what do we have as the {s}", "what did I say the {s} was",
                            "tell me the {s}", "remind me of the {s}", "do you know the {s}",
                            "what should the {s} be", "what is listed as the {s}",
                            "what did the {s} turn out to be", "what has the {s} become",
                            "can you recall the {s}", "which {s} did we get", "which {s} was it",
                            "which {s} was chosen", "which {s} did I mention"]
COMPOSED_QUESTION_CLOSERS = ["?", "?", "?", ", please?", " exactly?", "? Just the value."]
COMPOSED_REQUEST_BODIES = ["state the {s}", "name the {s}", "show me the {s}", "repeat the {s}",
                           "quote the {s}", "report the {s}", "print the {s}", "recall the {s}",
                           "look up the {s}", "share the {s}", "write down the {s}", "read back the {s}",
                           "tell me the {s}", "provide the {s}", "send me the {s}", "list the {s}"]
COMPOSED_REQUEST_CLOSERS = [".", ".", ".", ", please.", " now.", " exactly.", " for me."]


def composed_question(rng: random.Random) -> str:
    """A training needle question frame ("{s}") drawn from the COMPOSED_QUESTION_* parts, or a third
    of the time a request drawn from the COMPOSED_REQUEST_* parts."""
    if rng.random() < 1 / 3:
        body, closer = rng.choice(COMPOSED_REQUEST_BODIES), rng.choice(COMPOSED_REQUEST_CLOSERS)
    else:
        body, closer = rng.choice(COMPOSED_QUESTION_BODIES), rng.choice(COMPOSED_QUESTION_CLOSERS)
    text = rng.choice(COMPOSED_QUESTION_OPENERS) + body + closer
    return text[0].upper() + text[1:]


QUESTIONS = [
    "What is the {s}?",
    "Tell me the {s}.",
    "What was the {s}?",
    "Which value is the {s}?",
    "What is the {s} I was given?",
    "Do you remember the {s}?",
    "What has the {s} been set to?",
    "Give the {s}.",
]
SUBJECTS = [
    "pass key", "vault combination", "launch code", "access code", "door code", "wifi password",
    "locker number", "account number", "ticket number", "order number", "room number",
    "badge number", "tracking number", "serial number", "pin", "license key", "backup code",
    "safe combination", "gate code", "alarm code", "booking reference", "invoice number",
    "parcel code", "port number", "build number", "release code", "project codename",
    "meeting room", "favourite colour", "lucky number", "secret word", "magic number",
    "password", "passphrase", "reference code", "confirmation code", "security code",
    "activation key", "extension number", "flight number",
]

# Named facts: "{k}" is the name the question asks by.
FACT_STATEMENTS = [
    "The {s} of {k} is {v}.",
    "{k}'s {s} is {v}.",
    "The {s} for {k} is {v}.",
    "{k} has the {s} {v}.",
    "As for {k}, the {s} is {v}.",
    "We gave {k} the {s} {v}.",
    "{k}: {s} {v}.",
    "The {s} that belongs to {k} is {v}.",
]
FACT_QUESTIONS = [
    "What is the {s} of {k}?",
    "What is {k}'s {s}?",
    "Which {s} does {k} have?",
    "What {s} was given to {k}?",
]

# Composed named-fact frames for training only (TrainConfig.composed_fact_frames): an opener, a
# phrase that ties the subject to the name, a link to the value and a closer, drawn apart. Trained
# on six statement frames, a17 answered 8 facts at 8K 0.65 with every part seen and 0.55 with the
# held-out statement frames (n 60; docs/TRAINING.md, fourteenth session). The name always comes before the value, and near it:
# the memory's key at the value can only hold the name when the short conv reaches back to it.
# Nothing here shares the held-out frames' or question's wording ("has the", "belongs",
# "given to"); tests/train/test_question_tasks.py checks that.
COMPOSED_FACT_TIES = ["{k}'s {s}", "the {s} of {k}", "the {s} for {k}", "the {s} assigned to {k}",
                      "the {s} used by {k}", "{k}'s new {s}", "the {s} on file for {k}",
                      "the {s} issued to {k}", "{k}'s official {s}", "the {s} kept for {k}"]
COMPOSED_FACT_LEADS = ["For {k}, the {s}", "{k} -- {s}", "{k}, {s}", "Regarding {k}: the {s}",
                       "{k} (the {s})"]
COMPOSED_FACT_QUESTIONS = ["What is the {s} of {k}?", "What is {k}'s {s}?", "Which {s} goes with {k}?",
                           "What {s} does {k} use?", "What was {k}'s {s} set to?",
                           "What {s} is assigned to {k}?", "Tell me the {s} for {k}.",
                           "Do you know {k}'s {s}?", "Remind me of the {s} of {k}.",
                           "What did {k}'s {s} become?", "{k}'s {s}: what is it?",
                           "Which {s} is on file for {k}?"]


def composed_fact_statement(rng: random.Random, wide_links: float = 0.0) -> str:
    """A training named-fact frame ("{k}", "{s}", "{v}") drawn from the COMPOSED_FACT_* parts and
    the needles' openers, links and closers; the name always precedes the value. With chance
    `wide_links` the link is one of WIDE_LINKS (no draw when 0, so earlier runs replay)."""
    opener, closer = rng.choice(COMPOSED_OPENERS), rng.choice(COMPOSED_CLOSERS)
    lead = rng.random() < 0.25
    tie = rng.choice(COMPOSED_FACT_LEADS if lead else COMPOSED_FACT_TIES)
    body = tie + " " + _link(rng, wide_links)
    return _sentence(opener + body + closer)


NAMES = [
    "Mara", "Oskar", "Leila", "Tomas", "Ines", "Bruno", "Freya", "Hugo", "Anya", "Felix",
    "Nadia", "Pavel", "Greta", "Omar", "Sofia", "Karl", "Yara", "Emil", "Lena", "Ravi",
    "Clara", "Ivan", "Maya", "Jonas", "Elsa", "Diego", "Nina", "Otto", "Zara", "Milo",
    "Hana", "Luca", "Vera", "Arjun", "Ida", "Marco", "Rosa", "Theo", "Alma", "Samir",
    "Edith", "Gustav", "Irene", "Kenji", "Lotte", "Mateo", "Noor", "Piet", "Ruth", "Stellan",
    "falcon", "copper", "violet", "harbor", "maple", "orbit", "quartz", "tiger", "lemon",
    "canyon", "ember", "glacier", "willow", "comet", "saffron", "juniper", "onyx", "pepper",
    "sierra", "tundra", "walnut", "zephyr", "basil", "cobalt", "dune", "fable", "garnet",
    "hazel", "indigo", "marble", "nectar", "opal", "pebble", "raven", "sparrow", "thistle",
    "umber", "velvet", "wren", "yarrow", "aspen", "birch", "cedar", "dahlia", "elm", "fern",
]
PEOPLE = NAMES[:50]  # the entity-tracking task moves people, not objects


def _invented_names(n: int) -> list[str]:
    """Pronounceable made-up names ("Tavelor", "Brimo"), fixed by a seed: enough distinct keys
    for 128 facts in one document from either split."""
    rng = random.Random(2404.07143)
    onsets = ["b", "br", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "th", "v", "z"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    codas = ["", "", "n", "r", "l", "s"]
    out: list[str] = []
    while len(out) < n:
        name = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3)))
        name = (name + rng.choice(codas)).capitalize()
        if name not in out and name.lower() not in NAMES:
            out.append(name)
    return out


NAMES = NAMES + _invented_names(540)

PLACES = [
    "kitchen", "garden", "hallway", "bedroom", "office", "bathroom", "garage", "cellar",
    "attic", "library", "market", "station", "harbour", "bakery", "school", "park", "museum",
    "beach", "church", "hospital", "cinema", "bank", "farm", "forest", "bridge", "castle",
    "river", "lake", "airport", "theatre",
]
MOVES = [
    "{p} went to the {l}.", "{p} moved to the {l}.", "{p} travelled to the {l}.",
    "{p} journeyed to the {l}.", "{p} went back to the {l}.", "{p} ran to the {l}.",
    "{p} walked into the {l}.", "Then {p} headed to the {l}.",
]
WHERE = ["Where is {p}?", "Where is {p} now?", "In which place is {p}?", "Where did {p} go last?"]

# Composed tracking moves and questions for training only (TrainConfig.composed_track). With the three
# training questions alone, every model answered the held-out "Where did {p} go last?" with a needle's
# value ('koala', '3'): right in 0.07-0.20 of held-out stories against 0.5-0.7 seen (docs/TRAINING.md,
# thirty-first session). The parts are drawn apart, as composed_question's. Nothing here shares the
# held-out move or question wording ("journeyed", "headed", "Then", "go", "last", "Where did {p}");
# tests/train/test_question_tasks.py checks that.
COMPOSED_MOVE_OPENERS = ["", "", "", "Later, ", "After that, ", "Next, ", "Soon after, ", "In the morning, ",
                         "That evening, ", "A little later, ", "Meanwhile, ", "At noon, ", "Afterwards, "]
COMPOSED_MOVE_VERBS = ["went to", "moved to", "walked to", "strolled to", "hurried to", "drove to",
                       "returned to", "wandered into", "rushed to", "went over to", "arrived at",
                       "ended up in", "stepped into", "cycled to", "came to", "went off to", "made it to",
                       "was seen in", "is now in", "settled in", "turned up at", "got to"]
COMPOSED_MOVE_CLOSERS = [".", ".", ".", ".", " at once.", " after lunch.", " without a word.", " in a hurry.",
                         " for a while.", " alone."]
COMPOSED_WHERE_OPENERS = ["", "", "", "Quick question: ", "Remind me, ", "So, ", "Tell me, ", "From the story, ",
                          "At this point, ", "By the end, "]
COMPOSED_WHERE_BODIES = ["where is {p}", "where is {p} now", "where's {p}", "where is {p} at the moment",
                         "where is {p} right now", "where would I find {p}", "where can {p} be found",
                         "where has {p} ended up", "which place is {p} in", "what place is {p} at",
                         "in what place is {p} now", "what is {p}'s location", "what is {p}'s current location",
                         "which place did {p} reach most recently", "where was {p} seen most recently",
                         "what place has {p} arrived at", "where should I look for {p}",
                         "what was the latest place {p} moved to", "where is {p} to be found"]
COMPOSED_WHERE_CLOSERS = ["?", "?", "?", "? Just the place.", "? One word, please."]
COMPOSED_WHERE_REQUESTS = ["tell me where {p} is", "say where {p} is now", "name the place {p} is in",
                           "state {p}'s location", "name {p}'s current place", "point out where {p} is"]
COMPOSED_WHERE_REQUEST_CLOSERS = [".", ".", ", please.", " in one word."]


# Wide tracking moves for training only (TrainConfig.wide_moves): verbs of going and being somewhere
# beyond COMPOSED_MOVE_VERBS, half of them after an adverb. Trained on the composed moves, a86 found
# the place 0.77 with every part of a story seen and 0.30 with the held-out moves alone ("journeyed
# to", "Then {p} headed to"; benchmarks/bench_heldout_parts.py --track, docs/TRAINING.md,
# thirty-second session): the moves' verbs were a list learned by heart. Nothing here shares the
# held-out moves' or question's wording (tests/train/test_question_tasks.py).
WIDE_MOVE_VERBS = ["sprinted to", "trudged to", "marched to", "sauntered into", "crept into", "dashed to",
                   "limped to", "paddled to", "sailed to", "flew to", "rode to", "hiked to", "climbed up to",
                   "tiptoed into", "raced to", "jogged to", "roamed over to", "drifted into", "hopped over to",
                   "skipped to", "ambled to", "bolted to", "scurried to", "darted into", "plodded to",
                   "trekked to", "commuted to", "relocated to", "retreated to", "proceeded to", "ventured into",
                   "slipped off to", "snuck into", "glided into", "zoomed off to", "shuffled to",
                   "stomped off to", "staggered into", "strode into", "wandered back to", "was driven to",
                   "took a taxi to", "took the bus to", "caught a train to", "set out for", "made a beeline for",
                   "popped over to", "nipped to", "went straight to", "rolled into", "checked into",
                   "showed up at", "appeared at", "reached", "visited", "entered", "can be found in",
                   "now waits in", "stayed in", "stopped by", "dropped in at", "found a seat in",
                   "was spotted in", "has moved to", "had gone to", "got back to", "came back to"]
WIDE_MOVE_ADVERBS = ["quietly", "quickly", "slowly", "finally", "soon", "suddenly", "eventually", "happily",
                     "reluctantly", "calmly", "eagerly", "promptly"]


def composed_move(rng: random.Random, wide_moves: float = 0.0) -> str:
    """A training tracking move ("{p}", "{l}") drawn from the COMPOSED_MOVE_* parts; with chance
    `wide_moves` its verb is one of WIDE_MOVE_VERBS, half the time after one of WIDE_MOVE_ADVERBS (no
    draw when 0, so runs from before WIDE_MOVE_VERBS replay)."""
    opener = rng.choice(COMPOSED_MOVE_OPENERS)
    if wide_moves and rng.random() < wide_moves:
        verb = rng.choice(WIDE_MOVE_VERBS)
        verb = rng.choice(WIDE_MOVE_ADVERBS) + " " + verb if rng.random() < 0.5 else verb
    else:
        verb = rng.choice(COMPOSED_MOVE_VERBS)
    closer = rng.choice(COMPOSED_MOVE_CLOSERS)
    return _sentence(opener + "{p} " + verb + " the {l}" + closer)


def composed_where(rng: random.Random) -> str:
    """A training tracking question ("{p}") drawn from the COMPOSED_WHERE_* parts, or a quarter of the
    time a request."""
    if rng.random() < 0.25:
        body, closer = rng.choice(COMPOSED_WHERE_REQUESTS), rng.choice(COMPOSED_WHERE_REQUEST_CLOSERS)
    else:
        body, closer = rng.choice(COMPOSED_WHERE_BODIES), rng.choice(COMPOSED_WHERE_CLOSERS)
    return _sentence(rng.choice(COMPOSED_WHERE_OPENERS) + body + closer)

# Questions about code (docqa.train.codefacts kinds); the fourth of each is held out.
CODE_QUESTIONS = {
    "defines": ["Which file defines {subject}?", "In which file is {subject} defined?",
                "What file contains the definition of {subject}?", "Where is {subject} defined?"],
    "params": ["What are the parameters of {subject}?", "Which arguments does {subject} take?",
               "List the parameters of {subject}.", "What does {subject} accept as parameters?"],
    "constant": ["What is the value of {subject}?", "What is {subject} set to?",
                 "Which value does {subject} have?", "What value is assigned to {subject}?"],
    "base": ["What is the base class of {subject}?", "Which class does {subject} inherit from?",
             "What does {subject} subclass?", "Which class is the parent of {subject}?"],
}

VALUE_WORDS = [
    "amber", "azure", "crimson", "emerald", "golden", "ivory", "scarlet", "silver", "teal",
    "badger", "beaver", "camel", "dolphin", "eagle", "ferret", "gazelle", "heron", "jaguar",
    "koala", "lynx", "otter", "panda", "rabbit", "salmon", "turtle", "walrus", "zebra",
    "apricot", "banana", "cherry", "grape", "mango", "melon", "olive", "peach", "plum",
    "anchor", "bottle", "candle", "hammer", "ladder", "mirror", "pillow", "rocket", "saddle",
    "trumpet", "violin", "wagon", "blossom", "meadow", "summit", "thunder", "valley", "winter",
]

# Open subjects for training needles and facts: "{word} {kind}" ("harbour code", "buffer
# number"), about 1,900 of them, so that a subject is an arbitrary key to match, not one of 30
# memorised phrases. Held-out subjects stay unseen: their words are left out of the pool.
OPEN_WORDS = [
    "amber", "anvil", "archive", "arrow", "atlas", "autumn", "backup", "balcony", "banner",
    "barrel", "basement", "beacon", "bicycle", "billing", "blanket", "boiler", "border", "bridge",
    "bucket", "buffer", "cabin", "cable", "cactus", "camera", "canal", "canvas", "cargo", "carpet",
    "castle", "cellar", "census", "channel", "chapter", "chess", "circuit", "clinic", "closet",
    "cluster", "compass", "console", "contract", "cottage", "courier", "crystal", "customer",
    "dagger", "dashboard", "delivery", "desk", "device", "diary", "drawer", "engine", "entry",
    "factory", "ferry", "festival", "folder", "fountain", "freezer", "furnace", "gallery",
    "garden", "gateway", "harbour", "helmet", "highway", "hotel", "island", "jacket", "journal",
    "kernel", "kettle", "kingdom", "lantern", "laptop", "lecture", "ledger", "library", "lobby",
    "machine", "mailbox", "mansion", "market", "member", "mission", "monitor", "museum",
    "network", "office", "orchard", "package", "paddle", "palace", "parking", "patient",
    "pavilion", "payroll", "pipeline", "planet", "platform", "printer", "project", "puzzle",
    "quarry", "radio", "railway", "recipe", "record", "region", "rental", "reservoir", "ribbon",
    "router", "sailboat", "satellite", "scanner", "schedule", "school", "sensor", "server",
    "shelter", "shipment", "signal", "socket", "station", "storage", "studio", "subway", "supply",
    "surgery", "tablet", "terminal", "theatre", "ticket", "timber", "tower", "tractor", "trailer",
    "tunnel", "uniform", "utility", "vehicle", "village", "voucher", "warehouse", "website",
    "window", "workshop", "yacht",
]
OPEN_KINDS = ["code", "number", "key", "word", "value", "id", "name", "setting", "password",
              "token", "label", "pin", "reference"]


def open_subject(rng: random.Random) -> str:
    """A training subject drawn from OPEN_WORDS x OPEN_KINDS, never a held-out subject."""
    while True:
        s = f"{rng.choice(OPEN_WORDS)} {rng.choice(OPEN_KINDS)}"
        if s not in _HELDOUT_SUBJECTS:
            return s


# Open names for training only (TrainConfig.open_names): syllables from a wider inventory than
# _invented_names', one to four of them, so that a name's key must come from its letters and not
# from a list learned by heart. Held out alone, names cost a17 the most of the four parts of a
# named fact (8 facts at 8K, n 60: 0.65 with every part seen, 0.53 with held-out names, 0.55 with
# held-out statements; docs/TRAINING.md, fourteenth session).
OPEN_ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "kl", "l", "m", "n", "p",
               "pr", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "y", "z", ""]
OPEN_VOWELS = ["a", "e", "i", "o", "u", "y", "ai", "ea", "ei", "io", "ou", "au"]
OPEN_CODAS = ["", "", "", "n", "r", "l", "s", "k", "m", "t", "x", "nd", "th"]


def open_name(rng: random.Random) -> str:
    """A made-up training name ("Shauvik", "Tro"), never one of the held-out names."""
    while True:
        name = "".join(rng.choice(OPEN_ONSETS) + rng.choice(OPEN_VOWELS) for _ in range(rng.randint(1, 4)))
        name = (name + rng.choice(OPEN_CODAS)).capitalize()
        if len(name) >= 3 and name not in _HELDOUT_NAMES:
            return name


def open_person(rng: random.Random) -> str:
    """A made-up person for a training tracking story (TrainConfig.open_people): open_name, never a
    held-out person. With the 38 training people alone, a86 found the place 0.57 with held-out
    people against 0.77 (docs/TRAINING.md, thirty-second session)."""
    while True:
        name = open_name(rng)
        if name not in _HELDOUT_PEOPLE:
            return name


# Made-up identifiers for renamed code subjects (TrainConfig.code_rename): a code question's answer
# must then come from the streamed module, not from the weights, which hold the standard library's
# answers by heart (a84 answered 'input, errors' for any parameters with or without the memory;
# docs/TRAINING.md, thirty-first session). Parts are verbs, OPEN_WORDS nouns and open_name syllables.
CODE_VERBS = ["get", "set", "make", "load", "read", "write", "parse", "build", "check", "find", "open",
              "close", "send", "fetch", "format", "render", "update", "apply", "merge", "split", "scan",
              "emit", "track", "count", "wrap", "join", "sort", "draw", "store", "clear", "pack", "mark"]
IDENTIFIER_STYLES = ("function", "class", "constant")


def identifier_style(name: str) -> str:
    """How a Python name is cased: 'constant' (UPPER_CASE), 'class' (CapWords) or 'function'."""
    if name.isupper():  # at least one cased letter, and every cased letter upper
        return "constant"
    return "class" if name[:1].isupper() else "function"


def open_identifier(rng: random.Random, style: str) -> str:
    """A made-up Python name of 1-3 parts in `style` ("fetch_ledger", "TroCabin", "MAX_SOCKET")."""
    if style not in IDENTIFIER_STYLES:
        raise ValueError(f"style {style!r}; choose one of {IDENTIFIER_STYLES}")
    parts = []
    for i in range(rng.randint(1, 3)):
        pool = rng.choice([CODE_VERBS if i == 0 and style == "function" else OPEN_WORDS, OPEN_WORDS, None])
        parts.append(rng.choice(pool) if pool else open_name(rng).lower())
    if style == "class":
        return "".join(p.capitalize() for p in parts)
    return "_".join(parts).upper() if style == "constant" else "_".join(parts)


SPLITS = ("train", "heldout", "all")


def split(items: list, which: str) -> list:
    if which not in SPLITS:
        raise ValueError(f"split {which!r}; choose one of {SPLITS}")
    if which == "all":
        return list(items)
    return [x for i, x in enumerate(items) if (i % 4 == 3) == (which == "heldout")]


def value(rng: random.Random, kind: str | None = None) -> str:
    """A needle's value: digits (4-6), a word, or a code like 'KX-4821'."""
    kind = kind or rng.choice(["digits", "digits", "word", "code"])
    if kind == "digits":
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 6)))
    if kind == "word":
        return rng.choice(VALUE_WORDS)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return rng.choice(letters) + rng.choice(letters) + "-" + "".join(rng.choice("0123456789") for _ in range(4))


_HELDOUT_SUBJECTS = set(split(SUBJECTS, "heldout"))
_HELDOUT_NAMES = set(split(NAMES, "heldout"))
_HELDOUT_PEOPLE = set(split(PEOPLE, "heldout"))
