// The customer's message preferences, /track/{code}/preferences: which channels they hear
// of this order on (GET/POST /api/track/{code}/preferences; the code is the credential).
// Its few words in the languages the messages are written in, chosen by the order's
// locale, then the browser's languages, then English.

const WORDS = {
  en: {
    brand: "Parcel tracking", title: "Messages about your order",
    legend: "Send me updates about this order by", email: "Email", sms: "Text message (SMS)",
    none: "We have no email address or phone number for this order, so we send you no messages about it.",
    save: "Save", back: "Back to your delivery", code: "Tracking number", saved: "Saved.",
    unknown: "We could not find this order. The link may have expired some days after delivery.",
    busy: "Too many tries from this network. Please wait a minute and try again.",
    failed: "That did not work. Please try again.",
  },
  pt: {
    brand: "Seguimento de encomendas", title: "Mensagens sobre a sua encomenda",
    legend: "Enviem-me novidades sobre esta encomenda por", email: "Email", sms: "Mensagem de texto (SMS)",
    none: "Não temos email nem número de telefone para esta encomenda, por isso não lhe enviamos mensagens sobre ela.",
    save: "Guardar", back: "Voltar à sua entrega", code: "Número de seguimento", saved: "Guardado.",
    unknown: "Não encontrámos esta encomenda. A ligação pode ter expirado alguns dias após a entrega.",
    busy: "Demasiadas tentativas a partir desta rede. Aguarde um minuto e tente de novo.",
    failed: "Não foi possível. Tente de novo.",
  },
  es: {
    brand: "Seguimiento de pedidos", title: "Mensajes sobre su pedido",
    legend: "Enviarme novedades sobre este pedido por", email: "Correo electrónico", sms: "Mensaje de texto (SMS)",
    none: "No tenemos correo electrónico ni teléfono para este pedido, así que no le enviamos mensajes sobre él.",
    save: "Guardar", back: "Volver a su entrega", code: "Número de seguimiento", saved: "Guardado.",
    unknown: "No hemos encontrado este pedido. El enlace puede haber caducado unos días después de la entrega.",
    busy: "Demasiados intentos desde esta red. Espere un minuto y vuelva a intentarlo.",
    failed: "No ha funcionado. Vuelva a intentarlo.",
  },
  fr: {
    brand: "Suivi de colis", title: "Messages concernant votre commande",
    legend: "M'informer de cette commande par", email: "E-mail", sms: "SMS",
    none: "Nous n'avons ni adresse e-mail ni numéro de téléphone pour cette commande : nous ne vous envoyons donc aucun message.",
    save: "Enregistrer", back: "Retour à votre livraison", code: "Numéro de suivi", saved: "Enregistré.",
    unknown: "Commande introuvable. Le lien a peut-être expiré quelques jours après la livraison.",
    busy: "Trop de tentatives depuis ce réseau. Patientez une minute puis réessayez.",
    failed: "Cela n'a pas fonctionné. Veuillez réessayer.",
  },
  de: {
    brand: "Sendungsverfolgung", title: "Nachrichten zu Ihrer Bestellung",
    legend: "Neuigkeiten zu dieser Bestellung erhalten per", email: "E-Mail", sms: "SMS",
    none: "Für diese Bestellung haben wir weder E-Mail-Adresse noch Telefonnummer und schicken Ihnen daher keine Nachrichten.",
    save: "Speichern", back: "Zurück zu Ihrer Lieferung", code: "Sendungsnummer", saved: "Gespeichert.",
    unknown: "Diese Bestellung wurde nicht gefunden. Der Link läuft einige Tage nach der Zustellung ab.",
    busy: "Zu viele Versuche aus diesem Netz. Bitte warten Sie eine Minute und versuchen Sie es erneut.",
    failed: "Das hat nicht geklappt. Bitte versuchen Sie es erneut.",
  },
};

export function languageFor(locale, browser) {
  for (const tag of [locale, ...browser]) {
    const primary = (tag || "").split("-")[0].toLowerCase();
    if (primary in WORDS) return primary;
  }
  return "en";
}

const code = decodeURIComponent(location.pathname.split("/")[2] || "");
const api = `/api/track/${encodeURIComponent(code)}/preferences`;
const form = document.getElementById("preferences");
const problem = document.getElementById("problem");
const saved = document.getElementById("saved");
let words = WORDS[languageFor(null, navigator.languages || [])];

function speak(language) {
  words = WORDS[language];
  document.documentElement.lang = language;
  document.title = words.title;
  for (const element of document.querySelectorAll("[data-text]")) {
    element.textContent = words[element.dataset.text];
  }
  document.getElementById("code").textContent = `${words.code}: ${code}`;
}

function say(response) {
  problem.textContent =
    response && response.status === 404 ? words.unknown
      : response && response.status === 429 ? words.busy : words.failed;
  problem.hidden = false;
}

function show(view) {
  speak(languageFor(view.locale, navigator.languages || []));
  for (const channel of ["email", "sms"]) {
    const offered = view.channels.includes(channel);
    document.getElementById(`${channel}-choice`).hidden = !offered;
    document.getElementById(channel).checked = view[channel];
  }
  document.getElementById("no-channels").hidden = view.channels.length > 0;
  form.querySelector("button").hidden = view.channels.length === 0;
  form.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.hidden = true;
  saved.textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  const body = {};
  for (const channel of ["email", "sms"]) {
    if (!document.getElementById(`${channel}-choice`).hidden) {
      body[channel] = document.getElementById(channel).checked;
    }
  }
  try {
    const response = await fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      say(response);
      return;
    }
    show(await response.json());
    saved.textContent = words.saved;
  } catch {
    say(null);
  } finally {
    button.disabled = false;
  }
});

async function load() {
  speak(languageFor(null, navigator.languages || []));
  document.getElementById("back").href = `/t/${encodeURIComponent(code)}`;
  try {
    const response = await fetch(api);
    if (!response.ok) {
      say(response);
      return;
    }
    show(await response.json());
  } catch {
    say(null);
  }
}

load();
