"""Writes the bundled benchmark files of this folder (written by hand for this project; Apache-2.0).

    .venv/bin/python llama_model/eval/tasks/build_tasks.py     # rewrites *.jsonl here, byte-identical each run

Four small tasks, each in the JSONL layout of a public benchmark, so the readers and the scoring that
real benchmark files go through are exercised by every default run:

- hellaswag_mini (HellaSwag layout): finish an everyday sentence. The three wrong endings are garbled
  (word order reversed, letters of each word reversed, another ending's words shuffled), so a tiny model
  trained on the bundled English text can beat chance (25%).
- piqa_mini (PIQA layout), arc_mini (ARC layout), boolq_mini (BoolQ layout): fluent right and wrong
  answers that need world knowledge; a tiny model is expected near chance, a large one well above it.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (context, correct ending)
SENTENCES = [
    ("The children put on their coats because", "it was cold and windy outside."),
    ("She opened the book and", "began to read the first chapter."),
    ("After the rain stopped, the farmer", "went out to look at his fields."),
    ("The river flows from the mountains", "down to the sea."),
    ("He was hungry, so he", "made himself a sandwich."),
    ("The city council voted to", "build a new bridge over the river."),
    ("When the sun goes down,", "the sky turns red and then dark."),
    ("The teacher asked the students to", "write their names at the top of the page."),
    ("The old man walked slowly", "along the road to the village."),
    ("In the winter the lake", "is covered with thick ice."),
    ("The company was founded in", "the early years of the twentieth century."),
    ("The doctor told her to", "rest for a few days and drink water."),
    ("They planted trees in the park", "so that there would be more shade."),
    ("The train left the station", "and headed north toward the capital."),
    ("She wrote a letter to her mother", "and sent it the next morning."),
    ("The soldiers marched through the town", "on their way to the front."),
    ("The king had three sons,", "and the youngest was the wisest of them."),
    ("The program reads the file and", "prints the number of lines it contains."),
    ("The population of the city", "grew quickly during the nineteenth century."),
    ("To make bread, you need", "flour, water, salt and yeast."),
    ("The cat jumped onto the table", "and knocked over a glass of milk."),
    ("He opened the door and", "saw that the room was empty."),
    ("The museum is open every day", "except on Mondays and public holidays."),
    ("The church was built in", "the twelfth century and restored in the nineteenth."),
    ("The ship sailed across the ocean", "and reached the harbor after many weeks."),
    ("The students listened carefully while", "the professor explained the theory."),
    ("The function returns true if", "the list is empty and false otherwise."),
    ("The village lies in a valley", "surrounded by high mountains."),
    ("Water boils when", "it is heated to one hundred degrees."),
    ("She thanked him for the gift and", "put it carefully on the shelf."),
    ("The war ended in", "a peace treaty signed by both sides."),
    ("The birds flew south", "before the first snow of the winter."),
]

PIQA = [
    ("To keep bread fresh for longer,", "store it in a sealed bag.", "leave it open on a sunny windowsill."),
    ("To cool down a hot drink quickly,", "add a few ice cubes to it.", "put it in the oven for a minute."),
    ("To dry wet clothes,", "hang them on a line in the sun.", "put them in a closed plastic box."),
    ("To see in a dark room,", "turn on the light.", "close your eyes tightly."),
    ("To open a locked door,", "use the key that fits the lock.", "paint the door a different color."),
    ("To stop a cut from bleeding,", "press a clean cloth on it.", "wash it with hot coffee."),
    ("To boil an egg,", "put it in a pot of boiling water for ten minutes.", "put it in the freezer overnight."),
    ("To make a room smell fresh,", "open the windows for a while.", "close all the windows for a week."),
    ("To carry water to the garden,", "fill a bucket and walk there.", "fill a paper bag and run there."),
    ("To sharpen a pencil,", "use a pencil sharpener.", "use a spoon."),
    ("To wake up on time,", "set an alarm clock.", "go to bed later than usual."),
    ("To melt butter,", "warm it gently in a pan.", "put it in the refrigerator."),
    ("To clean a dirty floor,", "sweep it and then wash it with soapy water.", "cover it with sand and leave it."),
    ("To protect your head when riding a bike,", "wear a helmet.", "wear sunglasses."),
    ("To keep ice cream from melting,", "keep it in the freezer.", "keep it next to the stove."),
    ("To cross a busy street safely,", "wait for the green light.", "close your eyes and run."),
    ("To hang a picture on a wall,", "hammer a nail into the wall and hang it.", "glue it to the ceiling with water."),
    ("To stay dry in the rain,", "carry an umbrella.", "carry a fork."),
    ("To make tea,", "pour hot water over the tea leaves.", "pour cold sand over the tea leaves."),
    ("To find a word in a dictionary,", "look it up in alphabetical order.", "read the book from the last page."),
    ("To put out a small candle,", "blow on the flame.", "pour oil on the flame."),
    ("To send a letter,", "put a stamp on it and mail it.", "put it under your pillow."),
    ("To measure the length of a table,", "use a tape measure.", "use a thermometer."),
    ("To keep a plant alive,", "water it regularly.", "keep it in a dark closet without water."),
    ("To tie two ropes together,", "make a knot with their ends.", "put them next to each other."),
    ("To remove a stain from a shirt,", "wash it with soap and water.", "rub it with mud."),
    ("To warm your hands in winter,", "wear gloves.", "hold a piece of ice."),
    ("To cut paper in a straight line,", "use scissors and a ruler.", "tear it with your teeth."),
    ("To make a bed,", "spread the sheets and blankets over the mattress.", "put the pillows on the floor."),
    ("To cook rice,", "simmer it in water until the water is absorbed.", "soak it in vinegar for a year."),
]

# (question, [choices], index of the answer)
ARC = [
    ("What do plants need from the sun to make food?", ["light", "sound", "wind", "snow"], 0),
    ("Which of these is a liquid at room temperature?", ["water", "iron", "wood", "stone"], 0),
    ("What is the closest star to Earth?", ["the Moon", "Mars", "the Sun", "Jupiter"], 2),
    ("Which animal is a mammal?", ["a shark", "a frog", "a whale", "a snake"], 2),
    ("What happens to water when it freezes?", ["it becomes ice", "it becomes gas", "it becomes salt", "it disappears"], 0),
    ("Which force pulls objects toward the ground?", ["magnetism", "gravity", "friction", "light"], 1),
    ("What gas do people breathe in to live?", ["oxygen", "helium", "carbon monoxide", "neon"], 0),
    ("Which part of a plant takes in water from the soil?", ["the flower", "the roots", "the leaves", "the fruit"], 1),
    ("Which season is usually the coldest?", ["summer", "spring", "winter", "autumn"], 2),
    ("What tool is used to measure temperature?", ["a ruler", "a scale", "a thermometer", "a clock"], 2),
    ("Which of these is made of metal?", ["a nail", "a leaf", "a feather", "a sponge"], 0),
    ("How many legs does an insect have?", ["two", "four", "six", "eight"], 2),
    ("What does the heart pump through the body?", ["air", "blood", "food", "water"], 1),
    ("Which planet do people live on?", ["Venus", "Mars", "Earth", "Saturn"], 2),
    ("What causes day and night on Earth?", ["the Earth turning", "the Moon moving", "clouds", "the wind"], 0),
    ("Which material lets light pass through it?", ["glass", "brick", "wood", "steel"], 0),
    ("What do bees make?", ["milk", "honey", "silk", "wool"], 1),
    ("Which of these is a source of energy for a car?", ["gasoline", "sand", "paper", "salt"], 0),
    ("What do we call frozen rain?", ["fog", "hail", "dew", "steam"], 1),
    ("Which organ do people use to see?", ["the ear", "the nose", "the eye", "the hand"], 2),
    ("What is a baby frog called?", ["a puppy", "a tadpole", "a kitten", "a calf"], 1),
    ("Which of these objects is attracted by a magnet?", ["an iron nail", "a plastic cup", "a wooden spoon", "a glass bottle"], 0),
    ("What shape is the Earth?", ["flat", "a cube", "round", "a triangle"], 2),
    ("Where do fish live?", ["in water", "in trees", "in the desert", "in the clouds"], 0),
    ("Which sense uses the tongue?", ["hearing", "taste", "sight", "touch"], 1),
    ("What do caterpillars turn into?", ["birds", "butterflies", "spiders", "worms"], 1),
    ("What is the main gas that plants take from the air?", ["carbon dioxide", "oxygen", "hydrogen", "nitrogen"], 0),
    ("Which of these uses electricity?", ["a lamp", "a rock", "a pencil", "a book"], 0),
    ("What covers most of the surface of the Earth?", ["sand", "water", "ice", "forest"], 1),
    ("Which animal can fly?", ["a dog", "an eagle", "a horse", "a cow"], 1),
]

# (passage, question, answer)
BOOLQ = [
    ("Water freezes at zero degrees Celsius and boils at one hundred degrees at sea level.", "does water boil at one hundred degrees at sea level", True),
    ("The Pacific Ocean is the largest ocean on Earth, larger than all of the land combined.", "is the atlantic the largest ocean on earth", False),
    ("Bats are mammals. They are the only mammals that can truly fly.", "can bats fly", True),
    ("Penguins are birds that cannot fly; they use their wings to swim.", "can penguins fly", False),
    ("The Sun is a star at the center of the Solar System.", "is the sun a star", True),
    ("Spiders have eight legs, while insects have six.", "do spiders have six legs", False),
    ("Paris is the capital and largest city of France.", "is paris the capital of france", True),
    ("The Moon orbits the Earth about once every 27 days.", "does the earth orbit the moon", False),
    ("Tomatoes are botanically fruits, although they are often cooked as vegetables.", "is a tomato a fruit", True),
    ("Whales breathe air through blowholes on the top of their heads.", "do whales breathe water", False),
    ("The human heart has four chambers: two atria and two ventricles.", "does the human heart have four chambers", True),
    ("Mount Everest is the highest mountain above sea level, on the border of Nepal and China.", "is mount everest in africa", False),
    ("Copper is a metal that conducts electricity very well and is used in wires.", "is copper used in electrical wires", True),
    ("Diamonds are made of carbon atoms arranged in a crystal.", "are diamonds made of iron", False),
    ("Most trees lose their leaves in autumn if they are deciduous.", "do deciduous trees lose their leaves in autumn", True),
    ("Sound travels faster in water than in air.", "does sound travel faster in air than in water", False),
    ("The Great Wall of China was built over many centuries to protect against invasions.", "was the great wall built over many centuries", True),
    ("Snakes are reptiles; they have scales and are cold-blooded.", "are snakes mammals", False),
    ("The piano is a musical instrument played by pressing keys.", "is the piano played by pressing keys", True),
    ("Gold does not rust, which is why old gold coins still shine.", "does gold rust easily", False),
    ("Honey bees live in colonies with a single queen.", "does a honey bee colony have a queen", True),
    ("The Nile is a river in Africa that flows north into the Mediterranean Sea.", "does the nile flow into the pacific ocean", False),
    ("A leap year has 366 days, one more than a common year.", "does a leap year have 366 days", True),
    ("Glass is made mostly from sand that is melted at very high temperature.", "is glass made from wood", False),
    ("Owls are mostly active at night and sleep during the day.", "are owls active at night", True),
    ("The Earth has one natural satellite, the Moon.", "does the earth have two moons", False),
    ("Rice is a staple food for more than half of the world's people.", "is rice a staple food for many people", True),
    ("Lightning is a sudden electrical discharge during a storm.", "is lightning caused by wind alone", False),
    ("Dolphins are intelligent marine mammals that live in groups.", "do dolphins live in groups", True),
    ("Ice is less dense than liquid water, so it floats.", "does ice sink in water", False),
]


def _garble(rng: random.Random, ending: str, other: str) -> list[str]:
    words = ending.rstrip(".").split()
    reversed_order = " ".join(reversed(words)) + "."
    reversed_letters = " ".join(w[::-1] for w in words) + "."
    shuffled = other.rstrip(".").split()
    rng.shuffle(shuffled)
    return [reversed_order, reversed_letters, " ".join(shuffled) + "."]


def build() -> dict[str, list[dict]]:
    rng = random.Random(20230227)  # LLaMA-1's arXiv date
    tasks: dict[str, list[dict]] = {"hellaswag_mini": [], "piqa_mini": [], "arc_mini": [], "boolq_mini": []}
    for i, (ctx, ending) in enumerate(SENTENCES):
        endings = [ending] + _garble(rng, ending, SENTENCES[(i + 7) % len(SENTENCES)][1])
        order = list(range(4))
        rng.shuffle(order)
        tasks["hellaswag_mini"].append({"ind": i, "ctx": ctx, "endings": [endings[k] for k in order],
                                        "label": order.index(0)})
    for i, (goal, good, bad) in enumerate(PIQA):
        label = rng.randrange(2)
        sols = [good, bad] if label == 0 else [bad, good]
        tasks["piqa_mini"].append({"id": f"piqa-{i}", "goal": goal, "sol1": sols[0], "sol2": sols[1], "label": label})
    for i, (q, choices, ans) in enumerate(ARC):
        letters = "ABCD"
        order = list(range(len(choices)))
        rng.shuffle(order)  # the hand-written answers are mostly first: spread them over A-D
        choices, ans = [choices[k] for k in order], order.index(ans)
        tasks["arc_mini"].append({"id": f"arc-{i}", "question": {"stem": q, "choices": [
            {"text": c, "label": letters[k]} for k, c in enumerate(choices)]}, "answerKey": letters[ans]})
    for passage, q, ans in BOOLQ:
        tasks["boolq_mini"].append({"question": q, "passage": passage, "answer": ans})
    return tasks


def main() -> None:
    for name, records in build().items():
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        (HERE / f"{name}.jsonl").write_text(text, encoding="utf-8")
        print(f"{name}: {len(records)} items")


if __name__ == "__main__":
    main()
