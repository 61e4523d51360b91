#!/usr/bin/env python3
# This file is part of the EV operations suite.
"""Writes `requests.csv`, the training set of the inbox classifier.

Each intent below is what a customer of a charging network writes about,
in English, Hindi (Devanagari) and Hinglish (romanised Hindi), with its
category code and urgency. The phrasings are filled with places, amounts,
error codes and cars, and a greeting or closing is sometimes added, so that
the classifier learns the words of an intent rather than one sentence.
The held-out set of the tests (`tests/data/requests_heldout.csv`) is
written by hand apart from these phrasings; `test_classifier` checks that
no held-out message is a near copy of a training one.

Urgency: critical is danger to people or property (sparks, smoke, burning
smell, a shock, a melting cable, exposed wires); high is a customer
stranded or money lost now (a charger that won't start, a connector stuck,
a payment taken without a session); medium is a problem that can wait a
few hours (refund pending, slow charging, a station shown offline, most
complaints); low is information (tariffs, locations, cards, invoices).

    python addons/ev_helpdesk/data/make_requests.py  # rewrites the CSV
"""
import csv
import os
import random

VARIANTS = 4  # messages drawn per phrasing

SLOTS = {
    'place': [
        "Koramangala", "Whitefield", "HSR Layout", "Indiranagar",
        "Electronic City", "Hebbal", "Yelahanka", "Marathahalli",
        "Andheri East", "Powai", "Bandra Kurla Complex", "Thane",
        "Baner", "Hinjewadi", "Gachibowli", "Madhapur", "Anna Nagar",
        "OMR Sholinganallur", "Salt Lake", "Sector 29 Gurugram",
        "Noida Sector 18", "Connaught Place", "Vashi", "Jayanagar",
        "the Mysore Road highway stop", "the Phoenix mall parking",
        "the Shell petrol pump", "the Orion mall basement"],
    'place_hi': [
        "कोरमंगला", "व्हाइटफ़ील्ड", "अंधेरी", "पवई", "नोएडा सेक्टर 18",
        "गुरुग्राम", "बानेर", "हेब्बल", "सॉल्ट लेक", "वाशी", "जयनगर"],
    'amount': [
        "250", "320", "480", "500", "640", "799", "850", "1,200",
        "1500", "2,000", "375.50", "99"],
    'code': [
        "E-05", "E12", "ERR 21", "error 104", "E-42", "F3", "ground fault",
        "earth leakage", "OCPP offline", "over current", "E-07",
        "RCD trip", "CP error", "emergency stop pressed"],
    'car': [
        "Nexon EV", "Tiago EV", "Punch EV", "MG ZS EV", "MG Comet",
        "XUV400", "Kona", "BYD Atto 3", "Ioniq 5", "Kia EV6",
        "Citroen eC3", "Curvv EV", "Windsor EV"],
    'app': ["PhonePe", "GPay", "Paytm", "UPI", "the app", "BHIM"],
    'minutes': ["15", "20", "30", "40", "45", "60", "90"],
    'days': ["2", "3", "4", "5", "7", "10", "12", "15"],
    'charger': [
        "charger 2", "the DC fast charger", "the 60 kW charger",
        "gun 1", "connector B", "the CCS2 gun", "the Type 2 socket",
        "the AC charger", "point 3", "the second charger"],
    'txn': [
        "TXN 4418 2290", "UTR 5521 8876 1023", "ref 99341",
        "order #78213", "txn id 30018842", "UTR 4410 7720 3391"],
    }

OPENERS = [
    "", "", "", "", "Hi, ", "Hello team, ", "Namaste, ", "Sir, ",
    "Hello ", "Dear support, ", "Good evening, ", "hi ", "Bhaiya, ",
    "नमस्ते, ", "Madam, "]
CLOSERS = [
    "", "", "", "", " Please help.", " pls help", " Kindly check.",
    " Thanks.", " jaldi batao", " please reply asap", " kripya madad karein",
    " कृपया मदद करें।", " thank you", " Regards.", " plz check"]

# (category code, urgency, phrasings)
INTENTS = [
    # -- Payments -----------------------------------------------------------
    ('payment', 'high', [
        "Money deducted Rs {amount} from my account but charging never "
        "started at {place}.",
        "Paid {amount} through {app} and the charger did not start, amount "
        "debited. {txn}",
        "My UPI payment of ₹{amount} went through but session failed to "
        "begin. Where is my money?",
        "Paise kat gaye {amount} rupay par charging start nahi hui {place} "
        "pe",
        "{app} se payment kiya, account se paisa cut ho gaya lekin gaadi "
        "charge nahi hui",
        "{place_hi} में मेरे खाते से ₹{amount} कट गए लेकिन चार्जिंग शुरू "
        "नहीं हुई",
        "भुगतान हो गया पर चार्जर चालू नहीं हुआ, पैसे वापस करो",
        "Double payment! I was charged twice, {amount} each, for one "
        "session at {place}.",
        "Do baar paisa kata gaya ek hi charging ke liye, {txn}",
        "Wallet balance deducted but charger shows payment pending, I am "
        "stuck at {place} with my {car}.",
        "Transaction shows failed in the app but the bank sent a debit "
        "SMS for {amount}.",
        "Bank ne {amount} debit kar diye, app bol raha hai transaction "
        "failed",
        "Charger says insufficient balance even though I just paid "
        "{amount}, I cannot start.",
        "Paid at the kiosk, screen went back to the home page and no "
        "charging, amount gone from {app}.",
        "पैसे कट गए और ऐप में सेशन रद्द दिखा रहा है",
        "QR scan karke pay kiya, kuch nahi hua, paise gaye",
        ]),
    ('payment', 'medium', [
        "Refund of Rs {amount} not received yet, it has been {days} days. "
        "{txn}",
        "When will I get my refund? Session failed {days} days ago at "
        "{place}.",
        "Refund abhi tak nahi aaya, {days} din ho gaye, {txn}",
        "रिफंड अभी तक नहीं मिला, {days} दिन हो गए हैं",
        "Wallet recharge of {amount} through {app} is not reflecting in the "
        "app balance.",
        "Wallet mein {amount} add kiye the par balance update nahi hua",
        "वॉलेट में पैसे डाले थे पर बैलेंस नहीं दिख रहा",
        "I was billed for {minutes} minutes more than I actually charged, "
        "please correct the bill.",
        "Session stopped at 30% but I was charged the full amount of "
        "{amount}, need partial refund.",
        "Promo code not applied and full amount {amount} was charged.",
        "Card payment failed but amount is on hold in my bank, please "
        "release it.",
        "Auto top-up took {amount} from my card without my permission.",
        "Why did you deduct a penalty for cancelling a reservation hours "
        "in advance?",
        "Idle fee of {amount} added to my bill, I moved the car as soon as "
        "charging ended.",
        "Wallet se extra deduction hua hai, {amount} zyada gaye",
        "Cashback of the offer never came to my wallet.",
        "बिल में ज़्यादा यूनिट जोड़ दी गई हैं, सही करें",
        ]),
    ('payment', 'low', [
        "Please send the GST invoice for my charging session on {days} "
        "March at {place}.",
        "How do I download invoices for my company's fleet payments?",
        "Can I pay by credit card at {place} or only UPI?",
        "Invoice chahiye last month ke charging sessions ka, GST number ke "
        "saath",
        "मुझे पिछले महीने की चार्जिंग का बिल चाहिए",
        "How do I check my wallet balance and transaction history?",
        "Wallet ka balance kaise check karu app mein?",
        "Is there a way to link my {app} account for automatic payment?",
        "Can I get a monthly statement of all my payments?",
        "Do you accept RuPay cards and net banking?",
        "Kindly email me the payment receipt of yesterday's charge.",
        "Payment receipt kaise download karein app se?",
        "रसीद ईमेल पर भेज दीजिए",
        "Where do I find the receipts for expense claims?",
        ]),
    # -- Charger faults -----------------------------------------------------
    ('fault', 'critical', [
        "Sparks coming from {charger} at {place} when I plugged in, please "
        "switch it off immediately!",
        "Burning smell and smoke from the charger at {place}, very "
        "dangerous.",
        "Charger cable is melting and very hot to touch at {place}.",
        "I got an electric shock touching {charger} at {place}, someone "
        "could get hurt.",
        "Charger se chingari nikal rahi hai {place} pe, turant band karo",
        "Charger se dhuan nikal raha hai aur jalne ki smell aa rahi hai",
        "{place_hi} स्टेशन पर चार्जर से चिंगारी निकल रही है, तुरंत बंद करें",
        "चार्जर से धुआं निकल रहा है और जलने की गंध आ रही है",
        "Fire near the charging station at {place}, the panel is burning!",
        "Water has entered the charger box after rain and it is sparking.",
        "Current lag raha hai charger ko chhune se, bahut khatarnak hai",
        "Exposed live wires hanging from the charger at {place}, kids "
        "around.",
        "Cable insulation burnt and there was a loud bang from the "
        "charger.",
        "Flames coming out of the charging cabinet at {place}, call the "
        "fire department!",
        "Charger mein aag lag gayi hai {place} pe",
        "चार्जर में से लपटें निकल रही हैं",
        "Touched the charger body and got a jolt, the metal is live.",
        "Charger chhute hi jhatka lagta hai, body mein current hai",
        "चार्जर छूने पर करंट का झटका लगा",
        "Plug is so hot it burnt my fingers, something is overheating.",
        "The gun is overheating and the plastic has turned black.",
        "Live cables exposed at the base of {charger}, very unsafe.",
        "Rain water in the socket and it sparked when I plugged in.",
        "Baarish mein charger se spark aa raha hai",
        ]),
    ('fault', 'high', [
        "Charger at {place} not starting, showing {code}. I am stuck with "
        "low battery.",
        "{charger} shows {code} and won't charge my {car}.",
        "Charging not starting at {place}, tried three times, error {code}.",
        "Connector stuck in my {car}, cannot remove the gun from the car at "
        "{place}.",
        "Gun car mein phas gaya hai, nikal nahi raha, {place}",
        "Charger {code} dikha raha hai aur charging start nahi ho rahi",
        "चार्जर चालू नहीं हो रहा, स्क्रीन पर {code} आ रहा है",
        "कनेक्टर गाड़ी में फंस गया है, निकल नहीं रहा",
        "Charging stops after 2 minutes every time with {code}.",
        "Both chargers at {place} are dead, screen is blank, battery at 5%.",
        "Charger band pada hai {place} pe, screen blank hai, battery "
        "khatam hone wali hai",
        "Charger is not detecting my {car}, stuck at 'preparing' for "
        "{minutes} minutes.",
        "RFID card tapped but charger does nothing, {code} on the display.",
        "Charging session stopped midway and won't restart, {code}.",
        "Can't pull the plug out of my {car}, the latch is locked.",
        "Cable lock jammed, my car is held at {place}, I need to leave.",
        "Gun lock khul nahi raha, gaadi wahin phasi hai",
        "Authorization failed every time I tap my RFID card on {charger}.",
        "Card swipe karne pe 'not authorised' aata hai, charging nahi hoti",
        "Nothing works at {place}, my range says 15 km, where do I go "
        "now?",
        "Highway trip pe hoon, {place} ke saare charger band hain",
        "Charger status says Faulted and it will not start my {car}.",
        "Charger pe Faulted likha hai, start hi nahi hota",
        "My {car} is not recognised when plugged in, the light just "
        "blinks red.",
        "Charger completely dead, no display and no lights at {place}.",
        "चार्जर पूरी तरह बंद है, कोई लाइट नहीं जल रही",
        "Screen frozen with the gun in my car, I cannot stop the session.",
        ]),
    ('fault', 'medium', [
        "The charger at {place} shows offline in the app since morning.",
        "App mein {place} wala charger offline dikh raha hai",
        "ऐप में {place_hi} का चार्जर ऑफलाइन दिख रहा है",
        "Charging is very slow at {place}, only 7 kW on the DC charger.",
        "Charging bahut slow hai, 60 kW wala charger 10 kW de raha hai",
        "चार्जिंग बहुत धीमी है, एक घंटे में सिर्फ 10% बढ़ा",
        "{charger} at {place} has been showing faulted status for {days} "
        "days.",
        "The app shows the charger available but it is actually out of "
        "order at {place}.",
        "Session kWh reading on the screen does not match the app.",
        "Charger restarts by itself in between charging at {place}.",
        "Home charger installed last month trips the MCB every night.",
        "Ghar ka charger Wi-Fi se connect nahi ho raha, app mein offline "
        "hai",
        "The map lists {place} as unavailable since yesterday, is it "
        "working?",
        "Station showing closed on the map, is it under maintenance?",
        "Charging power drops to 5 kW after 50% every time at {place}.",
        "Wallbox at home trips the breaker when charging begins.",
        "Home charger ki wajah se ghar ki main switch trip ho jati hai",
        "Charger keeps rebooting on its own while charging.",
        ]),
    ('fault', 'low', [
        "The display screen of {charger} at {place} is cracked but it "
        "still works.",
        "Holster of the charging gun at {place} is broken, cable lies on "
        "the ground.",
        "The LED light on the charger at {place} is not working.",
        "Screen ki light kharab hai, padhne mein dikkat hoti hai",
        "चार्जर की स्क्रीन पर खरोंच है, बाकी ठीक चल रहा है",
        "The cable management arm at {place} is loose, please fix when "
        "possible.",
        "QR code sticker on {charger} is faded and hard to scan.",
        "Charger ka QR sticker phat gaya hai, scan nahi hota",
        "Display is too dim to read in daylight, charging works.",
        "Display bahut dim hai, sunlight mein padh nahi pate",
        "Dust cap of the CCS gun at {place} is missing.",
        "Connector ka cover toot gaya hai, charging ho rahi hai",
        "Minor: one of the buttons on {charger} is sticky.",
        ]),
    # -- General inquiries --------------------------------------------------
    ('inquiry', 'low', [
        "What is the tariff per kWh at your {place} station?",
        "{place} mein charging ka rate kya hai per unit?",
        "चार्जिंग का रेट प्रति यूनिट कितना है?",
        "Where is your nearest fast charger to {place}?",
        "{place} ke paas koi fast charger hai kya?",
        "मेरे पास सबसे नज़दीकी चार्जिंग स्टेशन कहाँ है?",
        "Is the {place} station open 24 hours?",
        "I want to install a home charger for my {car}, what is the cost?",
        "Ghar pe charger lagwana hai {car} ke liye, kitna kharcha aayega?",
        "घर पर चार्जर लगवाना है, कितना खर्च आएगा?",
        "How do I get an RFID card for charging?",
        "RFID card kaise milega aur kitne ka hai?",
        "Does the {place} charger support CCS2 for my {car}?",
        "Can my society apartment get a shared charger installed?",
        "Do you have a subscription plan for daily charging?",
        "How long does it take to fully charge a {car} on your DC charger?",
        "Are there parking charges at the {place} station?",
        "Kya aapke charger pe two wheeler bhi charge hota hai?",
        "Do you offer franchise or partnership for opening a charging "
        "station?",
        "How do I book a charging slot in advance?",
        "स्लॉट पहले से बुक कैसे करें?",
        "Can I reserve a charger at {place} for tomorrow morning?",
        "What are the opening hours of the {place} station?",
        "Raat ko {place} ka station khula rehta hai kya?",
        "स्टेशन किस समय से किस समय तक चालू है?",
        "Which connectors do you have at {place}, CCS2 or Type 2?",
        "{place} pe kaun se connector hain?",
        "What is the procedure for getting a charger in our housing "
        "society?",
        "सोसाइटी में चार्जिंग पॉइंट लगवाने के लिए क्या करना होगा?",
        "Two-wheeler owners allowed at your charging points?",
        "क्या स्कूटर के लिए चार्जिंग पॉइंट है?",
        "Do you install chargers at offices and commercial buildings?",
        "Is parking free while my car charges at {place}?",
        "How many stations do you have on the Bengaluru-Mysuru highway?",
        "{car} ko full charge hone mein kitna time lagega?",
        "कितने समय में गाड़ी पूरी चार्ज होगी?",
        "Want to partner with you to put chargers at my restaurant.",
        ]),
    ('inquiry', 'medium', [
        "My home charger installation was scheduled {days} days ago, no "
        "one has come yet. What is the status?",
        "Home charger installation ka kya status hai? {days} din ho gaye "
        "booking kiye",
        "घर पर चार्जर लगाने की बुकिंग की थी, अभी तक कोई नहीं आया",
        "I need to change my registered mobile number, I cannot log in to "
        "the app.",
        "App login OTP nahi aa raha, account access nahi ho raha",
        "My RFID card is lost, please block it and issue a new one.",
        "RFID card kho gaya hai, block kar do",
        "Site survey for my office parking charger is pending for {days} "
        "days.",
        "Please give me a date for my wallbox installation, I have paid "
        "already.",
        "Installation technician kab aayega? date batao",
        "चार्जर लगाने वाला तकनीशियन कब आएगा?",
        "New SIM, the old mobile number is gone and I am unable to log "
        "into my account.",
        "OTP is not arriving, I am locked out of my account.",
        "OTP nahi aata, login nahi ho pa raha",
        "मेरा मोबाइल नंबर बदल गया है, अकाउंट में अपडेट करें",
        "My RFID card was stolen, please deactivate it.",
        "Kisi ne mera RFID tag le liya, deactivate karo turant",
        "Nobody from the survey team came for the site visit we booked.",
        ]),
    # -- Complaints ---------------------------------------------------------
    ('complaint', 'medium', [
        "The attendant at {place} was very rude and refused to help me.",
        "Staff ne bahut badtameezi se baat ki {place} pe",
        "स्टाफ ने बहुत बदतमीज़ी से बात की",
        "The charging bay at {place} is very dirty, garbage everywhere.",
        "{place} station pe bahut gandagi hai, koi saaf nahi karta",
        "{place_hi} के स्टेशन पर बहुत गंदगी है, कोई सफाई नहीं करता",
        "Petrol cars parked in the EV charging spots at {place} again, no "
        "one stops them.",
        "EV parking mein petrol gaadi khadi thi, guard ne kuch nahi kiya",
        "Your rates are much higher than what the app showed, this is "
        "overcharging.",
        "Itna mehenga charging? App mein kuch aur rate dikhaya tha",
        "I called the hotline {days} times and nobody resolved my issue.",
        "Customer care wale phone nahi uthate, {days} din se try kar raha "
        "hoon",
        "ग्राहक सेवा कोई जवाब नहीं देती, बहुत खराब सर्विस",
        "Waited {minutes} minutes in queue because one car was parked after "
        "charging finished.",
        "Technician came {days} days late for my home charger visit and "
        "left without finishing.",
        "The guard asked me for extra money to let me charge at {place}.",
        "No lights and no security at {place} at night, women feel unsafe "
        "charging there.",
        "Toilet and waiting area at {place} are locked, very poor facility.",
        "Garbage and stagnant water near the chargers at {place}, "
        "mosquitoes everywhere.",
        "{place} station pe kachra aur gandagi, bahut bura haal hai",
        "The place is filthy and smells, clean it up.",
        "This pricing is a scam, you charge double the rate of other "
        "networks.",
        "Loot hai ye, rate bahut zyada hai, app mein kam dikhaya",
        "Unfair: airport station costs twice the city price.",
        "Cars that finished charging sit on the chargers for hours, you "
        "need idle fees.",
        "Charging ke baad log gaadi hatate nahi, ghanta bhar wait kiya",
        "Your installer damaged my wall and left a mess at home.",
        "Installer ne ghar ki deewar tod di aur saaf bhi nahi kiya",
        "Support never replies to emails, I wrote {days} times.",
        "Email ka koi jawab nahi aata aapki team se",
        "The man at the counter insulted me at {place}.",
        "Guard ne gaali di jab maine line ke baare mein poocha",
        "Nobody showed up on the promised day for the visit and no call.",
        ]),
    ('complaint', 'low', [
        "Just feedback: the signboard for the chargers at {place} is hard "
        "to see.",
        "The app design is confusing, please make the station list easier.",
        "Suggestion: add a shade over the chargers at {place}, it gets very "
        "hot.",
        "Feedback hai: {place} pe baithne ki jagah honi chahiye",
        "सुझाव: स्टेशन पर पीने के पानी की व्यवस्था होनी चाहिए",
        "Not happy with the music played loudly at {place}, minor issue.",
        "The latest app version is harder to use, please improve the "
        "map.",
        "App ka naya update accha nahi hai, station dhundhna mushkil hai",
        "Mera sujhav hai ki {place} pe canteen khol do",
        "Please consider a canopy so drivers are not waiting under the "
        "sun.",
        "Idea: bigger signboards on the main road for the station.",
        ]),
    ('complaint', 'critical', [
        "Your staff at {place} left the charger panel open with live "
        "wires, someone will get electrocuted.",
        "Fire extinguisher missing and the charger smells of burning at "
        "{place}, nobody on site cares.",
        "Staff ki laparwahi se charger ke paas aag lagne wali thi",
        "The attendant was smoking beside the chargers, this can start a "
        "fire.",
        "Staff charger ke paas cigarette pee raha tha, aag lag sakti hai",
        "Maintenance crew left the cabinet open with bare live cables, "
        "children play there.",
        ]),
    ('complaint', 'high', [
        "Your attendant unplugged my car midway and I am stranded at "
        "{place} with 3% battery.",
        "I was overcharged {amount} and the staff threatened me when I "
        "asked for a bill.",
        "Attendant ne mera charging band kar diya aur ab gaadi nahi chal "
        "rahi",
        "Staff stopped my session to let someone they know charge first, "
        "now I cannot get home.",
        "Attendant ne beech mein charging rok di, itni battery nahi ki ghar "
        "pahunch sakoon",
        ]),
    ]


def fill(phrasing, rng):
    def value(name):
        return rng.choice(SLOTS[name])
    text = phrasing
    for name in SLOTS:
        while '{%s}' % name in text:
            text = text.replace('{%s}' % name, value(name), 1)
    return rng.choice(OPENERS) + text + rng.choice(CLOSERS)


def rows(seed=14):
    rng = random.Random(seed)
    seen = set()
    for category, urgency, phrasings in INTENTS:
        for phrasing in phrasings:
            for _ in range(VARIANTS):
                text = fill(phrasing, rng).strip()
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                yield text, category, urgency


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
        'requests.csv')
    with open(path, 'w', newline='', encoding='utf-8') as file:
        writer = csv.writer(file)
        writer.writerow(['text', 'category', 'urgency'])
        count = 0
        for row in rows():
            writer.writerow(row)
            count += 1
    print(f"{count} rows written to {path}")


if __name__ == '__main__':
    main()
