"""Word banks and sentence banks for the sample generator: plausible English, and genuine sentences in
other languages (enough per language for fastText lid.176 to identify a paragraph with a high score).

English text is built from sentence templates whose slots are filled from word lists, so that two
generated documents share few word 5-grams (planted near-duplicates are then the only close pairs).
Foreign-language paragraphs draw a few sentences from a per-language bank and fill in names, places and
numbers, which keeps unplanted documents of one language below a Jaccard of about 0.3 from each other.
"""
from __future__ import annotations

import random
import re

NOUNS = """garden river bridge library market village teacher engineer museum harbor station farmer
kitchen window mountain forest valley council committee report festival orchestra painter student
hospital doctor nurse bakery castle island lighthouse factory workshop vineyard theater school
architect journalist scientist telescope laboratory garden path cathedral meadow orchard train
ferry airport canal tower fountain square neighborhood cottage harvest recipe novel poem letter
journey winter summer autumn spring morning evening storm harbour ship sailor captain lake
road highway tunnel valley desert coast beach cliff glacier volcano canyon prairie river delta
company startup budget contract election mayor senator court judge lawyer witness jury archive
manuscript chapter museum exhibit sculpture portrait camera photograph film director actor
concert album melody violin piano guitar drummer choir stadium team coach player match season
club league tournament referee crowd ticket ferry passenger voyage map compass engine bicycle
tractor wagon carriage saddle stable barn pasture field crop wheat barley apple cherry pear""".split()
ADJECTIVES = """old new quiet busy narrow wide ancient modern small large famous local careful bright
dark cold warm early late simple complex rural urban northern southern eastern western central
coastal historic tiny enormous gentle rough steady rapid patient curious proud humble elegant
plain wooden stone iron golden silver crowded empty hidden open private public popular rare common
fragile sturdy distant nearby remote familiar strange cheerful serious careful honest clever
generous modest brave anxious calm noisy silent broad shallow deep""".split()
VERBS_PAST = """opened closed visited repaired painted described measured discovered examined
photographed crossed renovated designed built explored studied organized announced praised
criticized reported recorded restored cleaned protected moved visited inspected questioned
welcomed followed supported replaced delivered collected published translated finished started
prepared celebrated remembered ignored approved rejected planned tested improved extended""".split()
VERBS_PRESENT = """describes explains shows suggests reveals confirms questions supports challenges
records examines follows covers connects protects surrounds overlooks serves attracts welcomes
requires offers includes features remembers celebrates""".split()
PLACES = """Lisbon Oslo Quebec Denver Perth Nairobi Lima Cork Bergen Galway Adelaide Halifax Tucson
Dundee Auckland Toledo Savannah Boise Calgary Leeds Bristol Porto Tallinn Kyoto Hobart Reno Bath
Inverness Winnipeg Durban Memphis Omaha Fresno Exeter Norwich Swansea Kingston Wellington""".split()
NAMES = """Alice Bernard Clara Daniel Eleanor Frank Grace Henry Isabel James Katherine Louis Margaret
Nathan Olivia Peter Quentin Rachel Samuel Teresa Victor Walter Yvonne Arthur Beatrice Charles Dorothy
Edmund Florence George Harriet Ivan Julia Kenneth Lydia Martin Nora Oscar Pauline Robert Sylvia""".split()
TIMES = """last spring|in the early morning|during the long winter|after the storm|before the election|
in the autumn of that year|every summer|on a cold evening|for many decades|at the end of the season|
since the nineteenth century|over the past few years|in the following months|late in the afternoon""".replace("\n", "").split("|")

# {N} noun, {A} adjective, {V} past verb, {S} present verb, {P} place, {W} name, {T} time phrase,
# {D} number.
TEMPLATES = [
    "The {A} {N} near {P} was {V} by {W} {T}.",
    "{W} {V} the {A} {N} and wrote a short note about the {N}.",
    "Many visitors say that the {N} in {P} is more {A} than the {N} across the river.",
    "{T}, the {N} {V} a plan to improve the {A} {N}.",
    "According to {W}, the {A} {N} {S} how the town changed {T}.",
    "The {N} had {D} rooms, a {A} {N}, and a view of the {N}.",
    "When {W} arrived in {P}, the {N} had already {V} the {A} {N}.",
    "Local people still remember how the {N} {V} the {A} {N} {T}.",
    "A {A} {N} {S} the {N}, and children often play there {T}.",
    "The report {S} that {D} families {V} the {A} {N} together.",
    "{W} believes the {N} should be {V} before the {A} {N} opens.",
    "Nobody expected the {A} {N} to attract so many people from {P}.",
    "The {N} was {V} {T}, but the {A} {N} remained exactly as before.",
    "In {P}, a {A} {N} is usually the first thing travellers notice.",
    "Our guide explained that the {N} {S} the history of the {A} {N}.",
    "It took {D} weeks for {W} to finish the {A} {N} for the {N}.",
    "The {A} {N} and the {N} were {V} by the same group of volunteers.",
    "{W} and {W} {V} the {N} while the {A} {N} was closed.",
    "Some experts argue that the {N} {S} a {A} approach to the {N}.",
    "The {N} is open every day, and entry to the {A} {N} is free.",
]

TOPIC_TITLES = [
    "A walk through {P}", "Notes on the {A} {N}", "How the {N} of {P} changed", "Visiting the {N}",
    "What we learned from the {N}", "The story of the {A} {N}", "{W} and the {N}", "A guide to {P}",
]

# Genuine sentences per language. Slots: {P} place, {W} name, {D} number.
FOREIGN = {
    "fr": [
        "La ville de {P} accueille chaque année des milliers de visiteurs venus du monde entier.",
        "Le musée a rouvert ses portes après deux ans de travaux de rénovation.",
        "{W} a expliqué que le projet serait terminé avant la fin de l'année prochaine.",
        "Les habitants du quartier se plaignent depuis longtemps du bruit et de la circulation.",
        "Selon les chiffres publiés hier, plus de {D} personnes ont participé à la manifestation.",
        "Il faut réserver une table à l'avance, car le restaurant est souvent complet le samedi soir.",
        "Nous avons passé une semaine à la montagne et le temps était magnifique.",
        "Le gouvernement a annoncé de nouvelles mesures pour soutenir les petites entreprises.",
        "Les élèves doivent rendre leurs devoirs avant vendredi, sinon ils auront une mauvaise note.",
        "Cette recette traditionnelle se prépare avec du beurre, de la crème et beaucoup de patience.",
        "La bibliothèque municipale propose des ateliers gratuits pour les enfants tous les mercredis.",
        "Après le dîner, nous nous sommes promenés le long de la rivière jusqu'à minuit.",
    ],
    "de": [
        "Die Stadt {P} liegt am Ufer eines großen Flusses und ist für ihre alte Brücke bekannt.",
        "Am Wochenende fahren wir mit dem Zug zu meinen Großeltern aufs Land.",
        "{W} hat gestern erklärt, dass die Bauarbeiten noch mindestens ein Jahr dauern werden.",
        "Die meisten Geschäfte in der Innenstadt sind am Sonntag geschlossen.",
        "Nach Angaben der Polizei wurden bei dem Unfall {D} Personen leicht verletzt.",
        "Ich habe das Buch in zwei Tagen gelesen, weil die Geschichte so spannend war.",
        "Die Regierung will im nächsten Jahr mehr Geld für Schulen und Kindergärten ausgeben.",
        "Im Sommer kann man im See schwimmen und abends am Ufer grillen.",
        "Der Verein sucht noch freiwillige Helfer für das große Fest im Herbst.",
        "Wegen des starken Regens wurde das Konzert auf nächste Woche verschoben.",
        "Die Wissenschaftler untersuchen seit Jahren, warum die Bienen immer seltener werden.",
        "Zum Frühstück gibt es frische Brötchen, Butter, Käse und eine Tasse Kaffee.",
    ],
    "es": [
        "La ciudad de {P} es famosa por sus playas, su comida y su vida nocturna.",
        "Ayer fuimos al mercado a comprar frutas, verduras y pescado fresco.",
        "{W} aseguró que el nuevo hospital abrirá sus puertas el próximo verano.",
        "Los vecinos del barrio organizaron una fiesta para celebrar el fin de las obras.",
        "Según el último informe, más de {D} estudiantes se matricularon este año en la universidad.",
        "Cuando era niño, pasaba todos los veranos en el pueblo de mis abuelos.",
        "El gobierno ha prometido bajar los impuestos a las familias con hijos.",
        "Es mejor salir temprano porque a partir de las ocho hay mucho tráfico en la autopista.",
        "La exposición reúne más de cien obras de artistas jóvenes de todo el país.",
        "Después de la cena, dimos un paseo por el parque y hablamos durante horas.",
        "El equipo entrenó toda la semana para preparar el partido del domingo.",
        "Esta receta lleva tomate, ajo, aceite de oliva y un poco de pimienta.",
    ],
    "it": [
        "La città di {P} è famosa per le sue piazze, le sue chiese e la sua cucina.",
        "Domenica scorsa siamo andati al mare con tutta la famiglia.",
        "{W} ha dichiarato che i lavori sul ponte finiranno entro la primavera.",
        "Molti negozi del centro storico restano chiusi durante il mese di agosto.",
        "Secondo i dati ufficiali, quest'anno sono arrivati più di {D} turisti stranieri.",
        "Mia nonna prepara la pasta fatta in casa ogni domenica mattina.",
        "Il governo ha approvato una nuova legge per ridurre l'inquinamento nelle grandi città.",
        "Gli studenti hanno organizzato una mostra di fotografie nella biblioteca della scuola.",
        "Dopo cena abbiamo fatto una lunga passeggiata lungo il fiume.",
        "Il museo resterà aperto fino a mezzanotte per la notte bianca.",
        "La squadra ha vinto la partita grazie a un gol negli ultimi minuti.",
        "Per arrivare alla stazione bisogna prendere l'autobus numero dodici.",
    ],
    "pt": [
        "A cidade de {P} é conhecida pelas suas praias, pelos seus museus e pela comida.",
        "No fim de semana fomos visitar os meus avós que moram no campo.",
        "{W} afirmou que a nova escola vai abrir as portas no próximo ano.",
        "Os moradores do bairro reclamam há muito tempo do barulho e do trânsito.",
        "Segundo os dados divulgados ontem, mais de {D} pessoas participaram no festival.",
        "Quando eu era criança, passava as férias de verão na casa da praia.",
        "O governo anunciou novas medidas para ajudar as pequenas empresas.",
        "É melhor sair cedo, porque depois das oito horas há muito trânsito na estrada.",
        "A exposição reúne mais de cem obras de artistas jovens de todo o país.",
        "Depois do jantar, demos um passeio pela praça e conversámos durante horas.",
        "A equipa treinou a semana toda para preparar o jogo de domingo.",
        "Esta receita leva arroz, feijão, cebola e um pouco de azeite.",
    ],
    "nl": [
        "De stad {P} is bekend om haar grachten, musea en gezellige cafés.",
        "Vorige week zijn we met de fiets naar het strand gegaan.",
        "{W} zei gisteren dat de nieuwe brug volgend jaar klaar moet zijn.",
        "De meeste winkels in het centrum zijn op zondag gewoon open.",
        "Volgens de politie raakten bij het ongeluk {D} mensen lichtgewond.",
        "Ik heb het boek in twee dagen uitgelezen, omdat het verhaal zo spannend was.",
        "De regering wil volgend jaar meer geld uitgeven aan onderwijs en zorg.",
        "In de zomer kun je in het meer zwemmen en 's avonds op het terras zitten.",
        "De vereniging zoekt nog vrijwilligers voor het grote feest in september.",
        "Door de zware regen werd het concert naar volgende week verplaatst.",
        "Wetenschappers onderzoeken al jaren waarom er steeds minder bijen zijn.",
        "Bij het ontbijt eten we brood met kaas, hagelslag en een gekookt ei.",
    ],
    "pl": [
        "Miasto {P} słynie z pięknego rynku, starych kościołów i dobrej kuchni.",
        "W zeszły weekend pojechaliśmy pociągiem do dziadków na wieś.",
        "{W} powiedział wczoraj, że budowa nowej szkoły potrwa jeszcze rok.",
        "Większość sklepów w centrum jest zamknięta w niedzielę.",
        "Według policji w wypadku zostało lekko rannych {D} osób.",
        "Przeczytałem tę książkę w dwa dni, bo historia była bardzo ciekawa.",
        "Rząd chce w przyszłym roku przeznaczyć więcej pieniędzy na szkoły i szpitale.",
        "Latem można kąpać się w jeziorze, a wieczorem siedzieć przy ognisku.",
        "Nasza biblioteka organizuje bezpłatne zajęcia dla dzieci w każdą środę.",
        "Z powodu ulewnego deszczu koncert został przełożony na przyszły tydzień.",
        "Naukowcy od lat badają, dlaczego pszczół jest coraz mniej.",
        "Na śniadanie jemy chleb z masłem, ser, jajka i pijemy gorącą herbatę.",
    ],
    "ru": [
        "Город {P} известен своими старинными улицами, музеями и театрами.",
        "В прошлые выходные мы ездили на дачу к бабушке и дедушке.",
        "{W} заявил, что строительство нового моста закончится в следующем году.",
        "Большинство магазинов в центре города работают до десяти часов вечера.",
        "По данным полиции, в аварии пострадали {D} человек.",
        "Я прочитал эту книгу за два дня, потому что история была очень интересной.",
        "Правительство обещает выделить больше денег на школы и больницы.",
        "Летом можно купаться в озере, а вечером сидеть у костра.",
        "Городская библиотека проводит бесплатные занятия для детей каждую среду.",
        "Из-за сильного дождя концерт перенесли на следующую неделю.",
        "Учёные уже много лет изучают, почему пчёл становится всё меньше.",
        "На завтрак у нас обычно каша, хлеб с маслом и горячий чай.",
    ],
    "sv": [
        "Staden {P} är känd för sina gamla hus, sina museer och sin vackra hamn.",
        "I helgen åkte vi tåg till mina morföräldrar på landet.",
        "{W} sa i går att bygget av den nya bron blir klart nästa år.",
        "De flesta affärerna i centrum har öppet även på söndagar.",
        "Enligt polisen skadades {D} personer lindrigt i olyckan.",
        "Jag läste boken på två dagar eftersom historien var så spännande.",
        "Regeringen vill satsa mer pengar på skolor och sjukhus nästa år.",
        "På sommaren kan man bada i sjön och grilla på kvällen.",
        "Föreningen söker fortfarande frivilliga till den stora festen i höst.",
        "På grund av det kraftiga regnet flyttades konserten till nästa vecka.",
    ],
    "ja": [
        "{P}は古い寺院と美しい庭園で知られている町です。",
        "先週の週末、家族と一緒に海へ行きました。",
        "{W}さんは、新しい橋の工事は来年の春に終わると話しました。",
        "駅の近くには小さなパン屋があり、毎朝多くの人が並んでいます。",
        "警察によると、この事故で{D}人が軽いけがをしました。",
        "この本はとても面白かったので、二日で読み終えてしまいました。",
        "政府は来年、学校と病院により多くの予算を使う方針です。",
        "夏になると、子どもたちは川で泳いだり魚を捕まえたりします。",
        "雨のため、コンサートは来週の土曜日に延期されました。",
        "朝ごはんには、ご飯と味噌汁と焼き魚を食べることが多いです。",
    ],
}

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
         "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum "
         "dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui "
         "officia deserunt mollit anim id est laborum.")
BOILERPLATE = [
    "Home", "About us", "Contact", "Privacy Policy", "Terms of Use", "Sign in", "Register", "Menu",
    "Skip to main content", "Search", "Cart (0)", "Follow us on Facebook", "Share on Twitter",
    "This website uses cookies to improve your experience. Accept all cookies",
    "We use cookies. By continuing to browse you agree to our use of cookies.",
    "Copyright © 2024 All rights reserved.", "Subscribe to our newsletter", "Back to top",
    "Powered by WordPress", "Read more", "Next page", "Previous page", "Log in", "FAQ", "Sitemap",
]
JAVASCRIPT = [
    "var _gaq = _gaq || []; _gaq.push(['_setAccount', 'UA-000000-1']);",
    "function init() { document.getElementById('menu').style.display = 'none'; }",
    "window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}",
    "$(document).ready(function() { $('.slider').slick({ autoplay: true }); });",
    "if (typeof window !== 'undefined') { window.addEventListener('load', init); }",
    "Please enable JavaScript in your browser to view this page.",
]
SPAM_WORDS = ["cheap", "viagra", "casino", "bonus", "free", "win", "click", "now", "best", "price",
              "online", "pills", "discount", "loans", "bitcoin", "offer"]


_BANKS = {"N": NOUNS, "A": ADJECTIVES, "V": VERBS_PAST, "S": VERBS_PRESENT, "P": PLACES, "W": NAMES, "T": TIMES}


def _compile(template: str) -> list:
    """'The {A} {N}.' -> ['The ', ADJECTIVES, ' ', NOUNS, '.'] (a list is a slot; 'D' a number)."""
    out = []
    for part in re.split(r"(\{[A-Z]\})", template):
        if re.fullmatch(r"\{[A-Z]\}", part):
            out.append(_BANKS.get(part[1], None) or "D")
        elif part:
            out.append(part)
    return out


_COMPILED = [_compile(t) for t in TEMPLATES]
_TITLES = [_compile(t) for t in TOPIC_TITLES]
_FOREIGN = {lang: [_compile(t) for t in bank] for lang, bank in FOREIGN.items()}


def _fill(parts: list, rng: random.Random) -> str:
    out = []
    for p in parts:
        if isinstance(p, list):
            out.append(p[int(rng.random() * len(p))])
        elif p == "D":
            out.append(str(rng.randrange(2, 500)))
        else:
            out.append(p)
    return "".join(out)


def sentence(rng: random.Random) -> str:
    s = _fill(_COMPILED[int(rng.random() * len(_COMPILED))], rng)
    return s[0].upper() + s[1:]


def paragraph(rng: random.Random, n: int) -> str:
    return " ".join(sentence(rng) for _ in range(n))


def english(rng: random.Random, paragraphs: int, sentences: tuple[int, int] = (3, 7)) -> str:
    """A plausible English document of `paragraphs` paragraphs separated by blank lines."""
    return "\n\n".join(paragraph(rng, rng.randrange(*sentences)) for _ in range(paragraphs))


def title(rng: random.Random) -> str:
    return _fill(_TITLES[int(rng.random() * len(_TITLES))], rng).title()


def foreign(lang: str, rng: random.Random, paragraphs: int = 2, per_paragraph: int = 4) -> str:
    """Paragraphs of genuine sentences in `lang` (sentences drawn without repetition within a paragraph)."""
    bank = _FOREIGN[lang]
    out = []
    for _ in range(paragraphs):
        sents = [_fill(t, rng) for t in rng.sample(bank, min(per_paragraph, len(bank)))]
        out.append(("" if lang == "ja" else " ").join(sents))
    return "\n\n".join(out)


def word(rng: random.Random) -> str:
    bank = (NOUNS, ADJECTIVES, VERBS_PAST)[rng.randrange(3)]
    return bank[rng.randrange(len(bank))]
